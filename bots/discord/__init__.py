"""The Discord bot: slash commands over the gateway (``signalhub bot discord``)."""
