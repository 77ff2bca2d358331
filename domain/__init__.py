"""SignalHub's business rules: models, services and ports. No web, bot or queue code."""
