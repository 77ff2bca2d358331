"""A local Stripe API on loopback for the calls SignalHub makes, with Stripe's shapes.

The official SDK runs unmodified against it (``StripeClient(base_addresses=...)``).
It answers ``/v1/customers``, ``/v1/checkout/sessions``, ``/v1/accounts``,
``/v1/account_links``, ``/v1/billing_portal/sessions``, ``/v1/subscriptions/{id}``
(GET, POST with ``cancel_at_period_end``/``pause_collection``, DELETE),
``/v1/invoice_payments`` and ``/v1/payment_intents/{id}``; a DELETE of a subscription
keeps ``cancellation_details[comment]`` and refuses (400) one already canceled, as
Stripe does; errors come as Stripe's
``{"error": {"type", "code", "message", "param"}}`` with its status codes.
Idempotency keys replay the first answer. Every request is recorded (method, path,
decoded form params, headers) so tests can assert what was sent. ``outage = True``
answers every call with a 500 ``api_error`` (the SDK retries, then raises). A test can
set ``before_answer`` (an async function of the ``Recorded`` request) to act after a
call changed Stripe's objects but before its answer leaves, e.g. to deliver the
webhook Stripe sends for the change ahead of the caller's own handling of the answer.

It also plays Stripe's side of a payment: ``complete_checkout`` and ``fail_renewal``
change its objects and return the webhook events (current API version shapes:
an invoice's subscription under ``parent.subscription_details``) for a test to sign
and deliver.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import re
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from tests.support.servers import serve

API_VERSION = "2026-10-28.endive"
MONTH_S = 30 * 24 * 3600
STRIPE_FEE = (29, 30)  # 2.9 % (per mille x10) + 30 cents: Stripe's US card price


@dataclass
class Recorded:
    """One request the fake received."""

    method: str
    path: str
    params: dict[str, Any]
    headers: dict[str, str]


def decode_form(body: str) -> dict[str, Any]:
    """Stripe's form encoding (``a[b][0][c]=x``) back into nested dicts and lists."""
    root: dict[str, Any] = {}
    for key, value in parse_qsl(body, keep_blank_values=True):
        parts = re.findall(r"[^\[\]]+", key)
        node: Any = root
        for part, nxt in zip(parts, parts[1:], strict=False):
            container: Any = [] if nxt.isdigit() else {}
            if isinstance(node, list):
                index = int(part)
                while len(node) <= index:
                    node.append(container)
                node = node[index]
            else:
                node = node.setdefault(part, container)
        last = parts[-1]
        if isinstance(node, list):
            node.append(value)
        else:
            node[last] = value
    return root


def stripe_error(status: int, type_: str, message: str, code: str | None = None,
                 param: str | None = None) -> JSONResponse:
    """An error response as Stripe sends it."""
    error: dict[str, Any] = {"type": type_, "message": message}
    if code:
        error["code"] = code
        error["doc_url"] = f"https://stripe.com/docs/error-codes/{code.replace('_', '-')}"
    if param:
        error["param"] = param
    error["request_log_url"] = "https://dashboard.stripe.com/test/logs/req_fake"
    return JSONResponse({"error": error}, status_code=status,
                        headers={"Request-Id": f"req_{secrets.token_hex(7)}"})


def new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(12)}"


@dataclass
class FakeStripe:
    """State and recorder of the local Stripe; ``url`` once started (``running``)."""

    url: str = ""
    requests: list[Recorded] = field(default_factory=list)
    customers: dict[str, dict[str, Any]] = field(default_factory=dict)
    sessions: dict[str, dict[str, Any]] = field(default_factory=dict)
    accounts: dict[str, dict[str, Any]] = field(default_factory=dict)
    subscriptions: dict[str, dict[str, Any]] = field(default_factory=dict)
    invoices: dict[str, dict[str, Any]] = field(default_factory=dict)
    payment_intents: dict[str, dict[str, Any]] = field(default_factory=dict)
    idempotent: dict[str, tuple[int, Any]] = field(default_factory=dict)
    outage: bool = False
    before_answer: Callable[[Recorded], Awaitable[None]] | None = None
    clock: int = field(default_factory=lambda: int(time.time()))
    _seq: itertools.count = field(default_factory=itertools.count)

    # -- recorded calls -----------------------------------------------------------

    def calls(self, method: str, path_prefix: str) -> list[Recorded]:
        """Requests with ``method`` whose path starts with ``path_prefix``."""
        return [r for r in self.requests if r.method == method and r.path.startswith(path_prefix)]

    # -- the HTTP app -------------------------------------------------------------

    def app(self) -> Starlette:
        routes = [
            Route("/v1/customers", self._create_customer, methods=["POST"]),
            Route("/v1/checkout/sessions", self._create_session, methods=["POST"]),
            Route("/v1/accounts", self._create_account, methods=["POST"]),
            Route("/v1/accounts/{id}", self._get_account, methods=["GET"]),
            Route("/v1/account_links", self._account_link, methods=["POST"]),
            Route("/v1/billing_portal/sessions", self._portal, methods=["POST"]),
            Route("/v1/subscriptions/{id}", self._subscription,
                  methods=["GET", "POST", "DELETE"]),
            Route("/v1/invoice_payments", self._invoice_payments, methods=["GET"]),
            Route("/v1/payment_intents/{id}", self._payment_intent, methods=["GET"]),
        ]
        return Starlette(routes=routes)

    async def _read(self, request: Request) -> dict[str, Any]:
        body = (await request.body()).decode()
        params = decode_form(body or request.url.query)
        self.requests.append(Recorded(request.method, request.url.path, params,
                                      dict(request.headers)))
        return params

    def _guard(self, request: Request) -> JSONResponse | None:
        if self.outage:
            return stripe_error(500, "api_error", "An unknown error occurred")
        auth = request.headers.get("authorization", "")
        if not auth.startswith("Bearer sk_"):
            return stripe_error(401, "invalid_request_error",
                                "Invalid API Key provided: " + auth[-4:], "api_key_invalid")
        return None

    async def _handle(self, request: Request, create: Any) -> JSONResponse:
        params = await self._read(request)
        refused = self._guard(request)
        if refused is not None:
            return refused
        key = request.headers.get("idempotency-key")
        if key and key in self.idempotent:
            status, body = self.idempotent[key]
            return JSONResponse(body, status_code=status,
                                headers={"Idempotent-Replayed": "true"})
        result = create(params, request)
        if isinstance(result, JSONResponse):
            return result
        if key:
            self.idempotent[key] = (200, result)
        if self.before_answer is not None:
            hook, self.before_answer = self.before_answer, None  # once
            await hook(self.requests[-1])
        return JSONResponse(result, headers={"Request-Id": f"req_{secrets.token_hex(7)}"})

    async def _create_customer(self, request: Request) -> JSONResponse:
        def create(p: dict[str, Any], _: Request) -> dict[str, Any]:
            customer = {"id": new_id("cus"), "object": "customer", "created": self.clock,
                        "name": p.get("name"), "email": p.get("email"),
                        "metadata": p.get("metadata", {}), "livemode": False,
                        "invoice_settings": {"default_payment_method": None},
                        "balance": 0, "currency": None, "delinquent": False}
            self.customers[customer["id"]] = customer
            return customer
        return await self._handle(request, create)

    async def _create_session(self, request: Request) -> Any:
        def create(p: dict[str, Any], _: Request) -> Any:
            for required in ("mode", "success_url"):
                if required not in p:
                    return stripe_error(400, "invalid_request_error",
                                        f"Missing required param: {required}.",
                                        "parameter_missing", required)
            if p.get("customer") and p["customer"] not in self.customers:
                return stripe_error(400, "invalid_request_error",
                                    f"No such customer: '{p['customer']}'",
                                    "resource_missing", "customer")
            items = p.get("line_items", [])
            amount = sum(int(i["price_data"]["unit_amount"]) * int(i.get("quantity", 1))
                         for i in items)
            sid = "cs_test_" + secrets.token_hex(24)
            session = {
                "id": sid, "object": "checkout.session", "mode": p["mode"],
                "status": "open", "payment_status": "unpaid", "livemode": False,
                "url": f"https://checkout.stripe.com/c/pay/{sid}#fidkdWxOYHwnPyd1blpxYHZxWjA",
                "client_reference_id": p.get("client_reference_id"),
                "customer": p.get("customer"), "subscription": None,
                "metadata": p.get("metadata", {}), "amount_total": amount,
                "amount_subtotal": amount, "currency": "usd", "created": self.clock,
                "expires_at": self.clock + 86400, "success_url": p["success_url"],
                "cancel_url": p.get("cancel_url"), "invoice": None,
                "payment_method_types": ["card"],
            }
            self.sessions[sid] = session
            self.sessions[sid]["_params"] = p
            return {k: v for k, v in session.items() if not k.startswith("_")}
        return await self._handle(request, create)

    async def _create_account(self, request: Request) -> JSONResponse:
        def create(p: dict[str, Any], _: Request) -> dict[str, Any]:
            account = {"id": "acct_" + secrets.token_hex(8), "object": "account",
                       "type": p.get("type", "express"), "charges_enabled": False,
                       "payouts_enabled": False, "details_submitted": False,
                       "country": "US", "default_currency": "usd", "created": self.clock,
                       "metadata": p.get("metadata", {}), "email": None,
                       "capabilities": {"card_payments": "inactive", "transfers": "inactive"},
                       "requirements": {
                           "currently_due": ["external_account", "tos_acceptance.date"],
                           "disabled_reason": "requirements.past_due",
                           "eventually_due": [], "past_due": []}}
            self.accounts[account["id"]] = account
            return account
        return await self._handle(request, create)

    async def _get_account(self, request: Request) -> Any:
        account_id = request.path_params["id"]

        def get(_: dict[str, Any], __: Request) -> Any:
            return self.accounts.get(account_id) or _missing("account", account_id)
        return await self._handle(request, get)

    async def _account_link(self, request: Request) -> Any:
        def create(p: dict[str, Any], _: Request) -> Any:
            if p.get("account") not in self.accounts:
                return _missing("account", str(p.get("account")), "account")
            return {"object": "account_link", "created": self.clock,
                    "expires_at": self.clock + 300,
                    "url": f"https://connect.stripe.com/setup/e/{p['account']}/"
                           f"{secrets.token_urlsafe(12)}"}
        return await self._handle(request, create)

    async def _portal(self, request: Request) -> Any:
        def create(p: dict[str, Any], _: Request) -> Any:
            if p.get("customer") not in self.customers:
                return _missing("customer", str(p.get("customer")), "customer")
            return {"id": "bps_" + secrets.token_hex(12), "object": "billing_portal.session",
                    "customer": p["customer"], "return_url": p.get("return_url"),
                    "created": self.clock, "livemode": False, "locale": None,
                    "configuration": "bpc_" + secrets.token_hex(12), "flow": None,
                    "on_behalf_of": None,
                    "url": f"https://billing.stripe.com/p/session/test_{secrets.token_urlsafe(16)}"}
        return await self._handle(request, create)

    async def _subscription(self, request: Request) -> Any:
        sub_id = request.path_params["id"]

        def act(p: dict[str, Any], r: Request) -> Any:
            sub = self.subscriptions.get(sub_id)
            if sub is None:
                return _missing("subscription", sub_id, "id")
            if r.method == "DELETE":
                if sub["status"] in ("canceled", "incomplete_expired"):
                    return stripe_error(400, "invalid_request_error",
                                        "A canceled subscription can only update its "
                                        "cancellation_details.")
                sub.update(status="canceled", canceled_at=self.clock, ended_at=self.clock)
                details = sub["cancellation_details"]
                details["reason"] = "cancellation_requested"
                details["comment"] = (p.get("cancellation_details") or {}).get("comment")
            elif r.method == "POST":
                if "cancel_at_period_end" in p:
                    sub["cancel_at_period_end"] = p["cancel_at_period_end"] == "true"
                    sub["canceled_at"] = self.clock if sub["cancel_at_period_end"] else None
                if "pause_collection" in p:
                    pause = p["pause_collection"]
                    sub["pause_collection"] = ({"behavior": pause["behavior"],
                                                "resumes_at": None} if pause else None)
            return sub
        return await self._handle(request, act)

    async def _invoice_payments(self, request: Request) -> Any:
        def list_(p: dict[str, Any], _: Request) -> Any:
            invoice = self.invoices.get(str(p.get("invoice")))
            data = [] if invoice is None or not invoice.get("_intent") else [{
                "id": "inpay_" + secrets.token_hex(10), "object": "invoice_payment",
                "amount_paid": invoice["amount_paid"], "amount_requested": invoice["amount_due"],
                "currency": invoice["currency"], "invoice": invoice["id"], "is_default": True,
                "livemode": False, "created": invoice["created"], "status": "paid",
                "payment": {"type": "payment_intent", "payment_intent": invoice["_intent"]},
                "status_transitions": {"paid_at": invoice["created"], "canceled_at": None}}]
            return {"object": "list", "data": data, "has_more": False,
                    "url": "/v1/invoice_payments"}
        return await self._handle(request, list_)

    async def _payment_intent(self, request: Request) -> Any:
        intent_id = request.path_params["id"]

        def get(_: dict[str, Any], __: Request) -> Any:
            return self.payment_intents.get(intent_id) or _missing("payment_intent", intent_id)
        return await self._handle(request, get)

    # -- Stripe's side of a payment ----------------------------------------------

    def event(self, type_: str, obj: dict[str, Any], account: str | None = None,
              created: int | None = None) -> dict[str, Any]:
        """A webhook event envelope as Stripe sends it."""
        event = {"id": "evt_" + secrets.token_hex(12), "object": "event",
                 "api_version": API_VERSION, "created": created or self.clock,
                 "data": {"object": json.loads(json.dumps(obj))}, "livemode": False,
                 "pending_webhooks": 1,
                 "request": {"id": f"req_{secrets.token_hex(7)}", "idempotency_key": None},
                 "type": type_}
        if account:
            event["account"] = account
        return event

    def finish_onboarding(self, account_id: str) -> dict[str, Any]:
        """The provider completed onboarding: the ``account.updated`` event."""
        account = self.accounts[account_id]
        account.update(charges_enabled=True, payouts_enabled=True, details_submitted=True)
        account["capabilities"] = {"card_payments": "active", "transfers": "active"}
        account["requirements"].update(currently_due=[], disabled_reason=None)
        return self.event("account.updated", account, account=account_id)

    def complete_checkout(self, session_id: str) -> list[dict[str, Any]]:
        """The customer paid: ``checkout.session.completed``, ``customer.subscription.created``
        and ``invoice.paid`` events (in Stripe's usual order)."""
        session = self.sessions[session_id]
        params = session["_params"]
        data = params.get("subscription_data", {})
        price = params["line_items"][0]["price_data"]
        sub_id = "sub_" + secrets.token_hex(12)
        trial = int(data.get("trial_period_days", 0))
        start, end = self.clock, self.clock + (trial * 86400 if trial else MONTH_S)
        sub = {
            "id": sub_id, "object": "subscription", "customer": session["customer"],
            "status": "trialing" if trial else "active", "cancel_at_period_end": False,
            "canceled_at": None, "ended_at": None, "pause_collection": None,
            "created": self.clock, "start_date": self.clock, "livemode": False,
            "trial_start": start if trial else None, "trial_end": end if trial else None,
            "metadata": data.get("metadata", {}), "currency": "usd",
            "application_fee_percent": float(data["application_fee_percent"]),
            "transfer_data": {"destination": data["transfer_data"]["destination"],
                              "amount_percent": None},
            "cancellation_details": {"comment": None, "feedback": None, "reason": None},
            "collection_method": "charge_automatically", "latest_invoice": None,
            "billing_cycle_anchor": end if trial else start,
            "items": {"object": "list", "has_more": False, "data": [{
                "id": "si_" + secrets.token_hex(8), "object": "subscription_item",
                "quantity": 1, "current_period_start": start, "current_period_end": end,
                "price": {"id": "price_" + secrets.token_hex(8), "object": "price",
                          "currency": price["currency"], "recurring": {"interval": "month",
                                                                       "interval_count": 1},
                          "unit_amount": int(price["unit_amount"]), "type": "recurring"}}]},
        }
        self.subscriptions[sub_id] = sub
        session.update(status="complete", payment_status="paid" if not trial
                       else "no_payment_required", subscription=sub_id)
        invoice = self._invoice(sub, 0 if trial else int(price["unit_amount"]), start, end,
                                "subscription_create", paid=True)
        public = {k: v for k, v in session.items() if not k.startswith("_")}
        return [self.event("checkout.session.completed", public),
                self.event("customer.subscription.created", sub),
                self.event("invoice.paid", invoice)]

    def fail_renewal(self, sub_id: str) -> list[dict[str, Any]]:
        """The next period's charge failed: ``invoice.payment_failed`` and
        ``customer.subscription.updated`` (status past_due)."""
        sub = self.subscriptions[sub_id]
        item = sub["items"]["data"][0]
        start, end = item["current_period_end"], item["current_period_end"] + MONTH_S
        item.update(current_period_start=start, current_period_end=end)
        sub["status"] = "past_due"
        invoice = self._invoice(sub, int(item["price"]["unit_amount"]), start, end,
                                "subscription_cycle", paid=False)
        return [self.event("invoice.payment_failed", invoice),
                self.event("customer.subscription.updated", sub)]

    def _invoice(self, sub: dict[str, Any], amount: int, start: int, end: int, reason: str,
                 paid: bool) -> dict[str, Any]:
        invoice_id = "in_" + secrets.token_hex(12)
        item_id = sub["items"]["data"][0]["id"]
        fee_pct = sub["application_fee_percent"]
        invoice = {
            "id": invoice_id, "object": "invoice", "customer": sub["customer"],
            "currency": "usd", "amount_due": amount, "amount_paid": amount if paid else 0,
            "amount_remaining": 0 if paid else amount, "total": amount, "subtotal": amount,
            "application_fee_amount": round(amount * fee_pct / 100) if amount else None,
            "billing_reason": reason, "status": "paid" if paid else "open",
            "attempted": True, "attempt_count": 1, "created": self.clock,
            "period_start": start, "period_end": start, "livemode": False,
            "number": f"FAKE-{next(self._seq):04d}",
            "status_transitions": {"finalized_at": self.clock,
                                   "paid_at": self.clock if paid else None},
            "parent": {"type": "subscription_details", "quote_details": None,
                       "subscription_details": {"metadata": sub["metadata"],
                                                "subscription": sub["id"]}},
            "lines": {"object": "list", "has_more": False, "data": [{
                "id": "il_" + secrets.token_hex(10), "object": "line_item",
                "amount": amount, "currency": "usd", "quantity": 1,
                "period": {"start": start, "end": end},
                "parent": {"type": "subscription_item_details",
                           "subscription_item_details": {"subscription": sub["id"],
                                                         "subscription_item": item_id}}}]},
        }
        if paid and amount:
            intent_id = "pi_" + secrets.token_hex(12)
            fee = (amount * STRIPE_FEE[0] + 500) // 1000 + STRIPE_FEE[1]
            charge = {"id": "ch_" + secrets.token_hex(12), "object": "charge",
                      "amount": amount, "currency": "usd", "paid": True,
                      "balance_transaction": {
                          "id": "txn_" + secrets.token_hex(12), "object": "balance_transaction",
                          "amount": amount, "currency": "usd", "fee": fee,
                          "net": amount - fee, "type": "charge", "status": "pending",
                          "fee_details": [{"amount": fee, "currency": "usd",
                                           "type": "stripe_fee",
                                           "description": "Stripe processing fees",
                                           "application": None}]}}
            self.payment_intents[intent_id] = {
                "id": intent_id, "object": "payment_intent", "amount": amount,
                "currency": "usd", "status": "succeeded", "customer": sub["customer"],
                "latest_charge": charge, "livemode": False}
            invoice["_intent"] = intent_id
        self.invoices[invoice_id] = invoice
        sub["latest_invoice"] = invoice_id
        return {k: v for k, v in invoice.items() if not k.startswith("_")}


def _missing(kind: str, ident: str, param: str = "id") -> JSONResponse:
    return stripe_error(404, "invalid_request_error", f"No such {kind}: '{ident}'",
                        "resource_missing", param)


@contextlib.asynccontextmanager
async def running_stripe() -> AsyncIterator[FakeStripe]:
    """A ``FakeStripe`` served on 127.0.0.1 for the block; ``.url`` is its base."""
    fake = FakeStripe()
    async with serve(fake.app()) as url:
        fake.url = url
        yield fake
