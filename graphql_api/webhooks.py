"""``POST /webhooks/stripe`` and the billing pages Stripe sends users back to.

The webhook verifies ``Stripe-Signature`` on the raw body against
``STRIPE_WEBHOOK_SECRET`` or ``STRIPE_CONNECT_WEBHOOK_SECRET`` (the Connect endpoint's
own secret, for ``account.updated``): 400 with the reason for an unsigned, wrongly
signed, stale or malformed request. It stores the event once by its
id and enqueues ``process_stripe_event`` (job id ``stripe:<event id>``); it answers
200 ``{"received": true, "duplicate": <bool>}`` without doing the work. A redelivery
stores nothing new and enqueues nothing once the event is processed. Without
``STRIPE_WEBHOOK_SECRET`` it answers 503 (Stripe retries later).

The pages (``/billing/success``, ``/billing/cancel``, ``/billing/return``,
``/billing/onboarding/return``, ``/billing/onboarding/refresh``) are static HTML that
tell the user to go back to the bot.
"""

from __future__ import annotations

import html
import logging

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse
from starlette.routing import Route

from domain.billing_events import record_event
from integrations.stripe_billing import WebhookRejected, verify_event

log = logging.getLogger(__name__)
PAGES = {
    "success": ("Payment received",
                "Thank you! Your subscription starts as soon as Stripe confirms the payment "
                "(a few seconds). Go back to the bot: your signals will arrive there, and "
                "/subscriptions shows your status and renewal date."),
    "cancel": ("Checkout cancelled",
               "Nothing was charged. Go back to the bot and send /subscribe again whenever "
               "you like."),
    "return": ("Billing updated",
               "Go back to the bot: /subscriptions shows your subscriptions."),
    "onboarding/return": ("Payout setup sent",
                          "Stripe is checking your details. Go back to the bot: once Stripe "
                          "enables your account, your provider can take paid subscribers."),
    "onboarding/refresh": ("Link expired",
                           "This onboarding link has expired. Go back to the bot and send "
                           "/payouts for a new one."),
}


async def stripe_webhook(request: Request) -> JSONResponse:
    """Verify, store once and enqueue a Stripe event (see the module docstring)."""
    services = request.app.state.services
    settings = services.settings
    secret = [s for s in (settings.stripe_webhook_secret,
                          settings.stripe_connect_webhook_secret) if s]
    if not secret:
        return JSONResponse({"error": "Stripe webhooks are not configured "
                                      "(STRIPE_WEBHOOK_SECRET)"}, status_code=503)
    payload = await request.body()
    try:
        event = verify_event(payload, request.headers.get("stripe-signature"), secret)
    except WebhookRejected as exc:
        log.warning("Stripe webhook rejected: %s", exc.reason)
        return JSONResponse({"error": exc.reason}, status_code=400)
    row, new = await record_event(event)
    if row.processed_at is None:
        await services.queue.enqueue("process_stripe_event", row.id, job_id=f"stripe:{row.id}")
    return JSONResponse({"received": True, "duplicate": not new})


def page(name: str) -> Route:
    """The static page ``/billing/<name>``."""
    title, text = PAGES[name]

    async def show(request: Request) -> HTMLResponse:
        return HTMLResponse(
            f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}"
            f"</title><meta name='viewport' content='width=device-width'></head><body "
            f"style='font-family:sans-serif;max-width:32em;margin:3em auto'><h1>"
            f"{html.escape(title)}</h1><p>{html.escape(text)}</p></body></html>")

    return Route(f"/billing/{name}", show, methods=["GET"])


def billing_routes() -> list[Route]:
    """The webhook route and the billing pages, to add to the API app."""
    return [Route("/webhooks/stripe", stripe_webhook, methods=["POST"]),
            *(page(name) for name in PAGES)]
