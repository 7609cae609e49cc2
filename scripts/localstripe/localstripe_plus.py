"""localstripe (PyPI 1.15.10) with the parts of Stripe's documented behaviour that Paylink's
Stripe integration relies on and localstripe lacks.

    python localstripe_plus.py --port 8420 [--data-file /path/store.pickle] [--host 127.0.0.1]

Everything localstripe serves is kept (`/v1/...`, `/_config/webhooks/{id}`,
`POST /v1/payment_intents/{id}/_authenticate` with the publishable key in the body, ...).
Added, each marked below with the documentation it follows:

1. `Idempotency-Key` on POSTs authenticated with a secret key (localstripe ignores it).
2. `POST /_paylink/confirm_payment`: what Stripe.js's `stripe.confirmPayment` does with a card
   (localstripe has no way to confirm a PaymentIntent with a new card: `/confirm` with
   `payment_method` answers 500 "Not implemented" and refuses publishable keys).
3. `GET /js.stripe.com/v3/` serves stripe-adapter.js (a Payment Element and
   `stripe.confirmPayment`) instead of localstripe-v3.js (a card Element only).
4. Smaller fixes, each commented: the store file per instance, card errors typed `card_error`
   with a `decline_code`, `payment_intent.payment_failed` on a failed 3D Secure check, CORS
   preflight, documented PaymentIntent parameters localstripe refuses (description,
   receipt_email, automatic_payment_methods, ...), refunds beyond the charge refused,
   `GET /_paylink/payment_intent` for `stripe.retrievePaymentIntent`.
5. `GET /_paylink/demo?pk=...&cs=...`: a bare page mounting the Payment Element, for tests.
"""

import argparse
import json
import logging
import os
import pickle
import re
import sys
import time

from aiohttp import web

import localstripe.resources as resources
import localstripe.server as server
from localstripe.errors import UserError
from localstripe.resources import Event, PaymentIntent, PaymentMethod, Store, store
from localstripe.webhooks import schedule_webhook

HERE = os.path.dirname(os.path.abspath(__file__))
ADAPTER_JS = os.path.join(HERE, "stripe-adapter.js")

# ---------------------------------------------------------------------------------------------
# The store file. localstripe pickles its whole store to the fixed path /tmp/localstripe.pickle
# on every write (Store.dump_to_disk, Store.__setitem__) and reads it back at start: two
# instances at once (parallel tests) would overwrite each other's file and a new instance
# would start with the last one's objects. Each instance gets its own file (--data-file).
# ---------------------------------------------------------------------------------------------
DATA_FILE = None


def _dump_to_disk(self):
    if DATA_FILE is None:
        return
    tmp = DATA_FILE + ".tmp"
    with open(tmp, "wb") as f:
        pickle.dump(self, f, protocol=pickle.HIGHEST_PROTOCOL)
    os.replace(tmp, DATA_FILE)


def _try_load_from_disk(self):
    if DATA_FILE is None:
        return
    try:
        with open(DATA_FILE, "rb") as f:
            old = pickle.load(f)
    except FileNotFoundError:
        return
    self.clear()
    self.update(old)


Store.dump_to_disk = _dump_to_disk
Store.try_load_from_disk = _try_load_from_disk


def error_response(status, error):
    return server.json_response({"error": error}, status=status)


# ---------------------------------------------------------------------------------------------
# Card errors. Stripe documents errors of a declined card as `type: card_error` with a `code`
# and, for `card_declined`, a `decline_code`
# (https://docs.stripe.com/api/errors, https://docs.stripe.com/declines/codes); a
# PaymentIntent's `last_payment_error` has the same shape. localstripe types them
# `invalid_request_error` and gives no `decline_code`.
# ---------------------------------------------------------------------------------------------

# The test cards localstripe refuses when a PaymentMethod is attached
# (PaymentMethod._attaching_is_declined) with the error Stripe documents for each
# (https://docs.stripe.com/testing#declined-payments). localstripe lets them be charged.
DECLINES = {
    "4000000000000002": ("card_declined", "generic_decline", "Your card was declined."),
    "4000000000009995": ("card_declined", "insufficient_funds", "Your card has insufficient funds."),
    "4000000000009987": ("card_declined", "lost_card", "Your card was declined."),
    "4000000000009979": ("card_declined", "stolen_card", "Your card was declined."),
    "4000000000000069": ("expired_card", None, "Your card has expired."),
    "4000000000000127": ("incorrect_cvc", None, "Your card's security code is incorrect."),
    "4000000000000119": (
        "processing_error",
        None,
        "An error occurred while processing your card. Try again in a little bit.",
    ),
    "4242424242424241": ("incorrect_number", None, "Your card number is incorrect."),
}


def card_error(code, decline_code, message, **extra):
    error = {
        "type": "card_error",
        "code": code,
        "message": message,
        "doc_url": "https://stripe.com/docs/error-codes/" + code.replace("_", "-"),
    }
    if decline_code is not None:
        error["decline_code"] = decline_code
    error.update(extra)
    return error


_original_last_payment_error = PaymentIntent.last_payment_error.fget


def _last_payment_error(self):
    # An error our confirm route recorded (a card refused before any charge), else
    # localstripe's own (failed 3D Secure, failed charge) with Stripe's type and
    # decline_code.
    error = getattr(self, "_paylink_error", None)
    if error is not None:
        return error
    error = _original_last_payment_error(self)
    if error is None:
        return None
    error = dict(error)
    error["type"] = "card_error"
    if error.get("code") == "card_declined":
        error.setdefault("decline_code", "generic_decline")
    return error


PaymentIntent.last_payment_error = property(_last_payment_error)


# ---------------------------------------------------------------------------------------------
# PaymentIntent parameters Stripe documents (https://docs.stripe.com/api/payment_intents/create)
# that localstripe refuses with 400 "Unexpected ...": kept and shown on the object as Stripe
# does; they change nothing else here.
# ---------------------------------------------------------------------------------------------
PI_EXTRA_PARAMS = (
    "description",
    "receipt_email",
    "statement_descriptor",
    "statement_descriptor_suffix",
    "setup_future_usage",
    "automatic_payment_methods",
)
_original_pi_init = PaymentIntent.__init__


def _pi_init(self, **kwargs):
    extra = {k: kwargs.pop(k) for k in PI_EXTRA_PARAMS if k in kwargs}
    apm = extra.get("automatic_payment_methods")
    if apm is not None:
        if not isinstance(apm, dict) or "enabled" not in apm:
            raise UserError(400, "Invalid automatic_payment_methods", {"param": "automatic_payment_methods"})
        apm = dict(apm)
        apm["enabled"] = resources.try_convert_to_bool(apm["enabled"])
        extra["automatic_payment_methods"] = apm
    _original_pi_init(self, **kwargs)
    for k in PI_EXTRA_PARAMS:
        setattr(self, k, extra.get(k))


PaymentIntent.__init__ = _pi_init


# ---------------------------------------------------------------------------------------------
# Refunds beyond what is left of the charge. Stripe refuses them
# (https://docs.stripe.com/api/refunds/create, error codes charge_already_refunded and
# amount_too_large); localstripe accepts any amount, any number of times.
# ---------------------------------------------------------------------------------------------
_original_refund_init = resources.Refund.__init__


def _refund_init(self, charge=None, payment_intent=None, amount=None, **kwargs):
    charge_obj = None
    try:
        if isinstance(payment_intent, str) and charge is None:
            charge_obj = PaymentIntent._api_retrieve(payment_intent).latest_charge
        elif isinstance(charge, str):
            charge_obj = resources.Charge._api_retrieve(charge)
    except UserError:
        charge_obj = None  # the original answers 404
    wanted = resources.try_convert_to_int(amount)
    if charge_obj is not None and charge_obj.status == "succeeded":
        left = charge_obj.amount - charge_obj.amount_refunded
        if left <= 0:
            raise UserError(
                400,
                "Charge %s has already been refunded." % charge_obj.id,
                {"code": "charge_already_refunded"},
            )
        if isinstance(wanted, int) and wanted > left:
            raise UserError(
                400,
                "Refund amount (%d) is greater than unrefunded amount on charge (%d)" % (wanted, left),
                {"code": "amount_too_large", "param": "amount"},
            )
        if amount is None:
            # Stripe refunds what is left, not the whole charge again.
            amount = left
    _original_refund_init(self, charge=charge, payment_intent=payment_intent, amount=amount, **kwargs)


resources.Refund.__init__ = _refund_init


def pi_from_client_secret(client_secret):
    """The PaymentIntent a client secret names, or a UserError (404 unknown, 401 wrong
    secret), as Stripe answers a publishable-key request with a bad client secret."""
    if not isinstance(client_secret, str) or "_secret_" not in client_secret:
        raise UserError(400, "Invalid client_secret", {"param": "client_secret"})
    pi_id = client_secret.split("_secret_", 1)[0]
    if not re.fullmatch(r"pi_\w+", pi_id):
        raise UserError(400, "Invalid client_secret", {"param": "client_secret"})
    pi = PaymentIntent._api_retrieve(pi_id)
    if pi.client_secret != client_secret:
        raise UserError(
            401,
            "The client_secret provided does not match the client_secret associated "
            "with the PaymentIntent.",
        )
    return pi


def luhn_ok(number):
    total = 0
    for i, ch in enumerate(reversed(number)):
        d = int(ch)
        if i % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def _fail_payment(pi, error):
    """Stripe's state after a failed payment attempt: the PaymentIntent goes back to
    `requires_payment_method` with `last_payment_error` and no `payment_method`, and a
    `payment_intent.payment_failed` event is sent
    (https://docs.stripe.com/payments/paymentintents/lifecycle)."""
    pi._paylink_error = error
    pi.payment_method = None
    pi.next_action = None
    schedule_webhook(Event("payment_intent.payment_failed", pi))
    body = dict(error)
    body["payment_intent"] = pi._export()
    return error_response(402, body)


# ---------------------------------------------------------------------------------------------
# 2. POST /_paylink/confirm_payment, what Stripe.js's stripe.confirmPayment does with the card
# typed in a Payment Element (https://docs.stripe.com/js/payment_intents/confirm_payment):
# with the publishable key and the PaymentIntent's client secret, it creates a card
# PaymentMethod and confirms the PaymentIntent with it. localstripe cannot: its
# `POST /v1/payment_intents/{id}/confirm` answers 500 "Not implemented" when given a
# `payment_method` and refuses publishable keys.
# ---------------------------------------------------------------------------------------------
async def confirm_payment(request):
    try:
        data = json.loads(await request.text())
        assert isinstance(data, dict)
    except (ValueError, AssertionError):
        raise UserError(400, "Expected a JSON object")
    key = data.get("key")
    if not isinstance(key, str) or not key.startswith("pk_") or len(key) <= 5:
        raise UserError(401, "Invalid API Key provided")
    pi = pi_from_client_secret(data.get("client_secret"))

    if pi.status not in ("requires_payment_method", "requires_confirmation", "requires_action"):
        raise UserError(
            400,
            "This PaymentIntent's status is %s, so it cannot be confirmed." % pi.status,
            {"code": "payment_intent_unexpected_state", "payment_intent": pi._export()},
        )

    card = data.get("card")
    if not isinstance(card, dict):
        raise UserError(400, "Missing card", {"param": "card"})
    number = re.sub(r"[\s-]", "", str(card.get("number", "")))
    cvc = str(card.get("cvc", "")).strip()
    try:
        exp_month = int(card.get("exp_month"))
        exp_year = int(card.get("exp_year"))
    except (TypeError, ValueError):
        exp_month = exp_year = 0
    if 0 < exp_year < 100:
        exp_year += 2000
    # Stripe checks the card's details when the PaymentMethod is created (card_error, no
    # PaymentIntent change). localstripe only accepts 16 digits and a 3-digit CVC.
    if not (re.fullmatch(r"\d{16}", number) and luhn_ok(number)):
        return error_response(402, card_error("incorrect_number", None, "Your card number is incorrect.", param="number"))
    if not 1 <= exp_month <= 12:
        return error_response(
            402, card_error("invalid_expiry_month", None, "Your card's expiration month is invalid.", param="exp_month")
        )
    now = time.gmtime()
    if not (now.tm_year <= exp_year < 2100) or (exp_year == now.tm_year and exp_month < now.tm_mon):
        return error_response(
            402, card_error("invalid_expiry_year", None, "Your card's expiration year is invalid.", param="exp_year")
        )
    if not re.fullmatch(r"\d{3}", cvc):
        return error_response(402, card_error("invalid_cvc", None, "Your card's security code is invalid.", param="cvc"))

    pm = PaymentMethod(
        type="card",
        card={"number": number, "exp_month": exp_month, "exp_year": exp_year, "cvc": cvc},
    )

    # A card localstripe only refuses when attached to a customer: Stripe declines the
    # payment (docs.stripe.com/testing#declined-payments); localstripe would charge it.
    if pm._attaching_is_declined():
        code, decline_code, message = DECLINES.get(
            number, ("card_declined", "generic_decline", "Your card was declined.")
        )
        return _fail_payment(pi, card_error(code, decline_code, message, payment_method=pm._export()))

    # A new attempt: the previous one's error and failed charge go (Stripe keeps the charge
    # in the list of charges; localstripe's status would stay requires_payment_method).
    pi._paylink_error = None
    pi._authentication_failed = False
    pi.next_action = None
    if pi.latest_charge is not None and pi.latest_charge.status == "failed":
        pi.latest_charge = None
    pi.payment_method = pm.id
    try:
        # A card needing 3D Secure leaves next_action (requires_action); otherwise a charge.
        pi._confirm(on_failure_now=pi._report_failure)
    except UserError as e:
        if e.code != 402:
            raise
        # The charge was declined: localstripe's _report_failure scheduled
        # payment_intent.payment_failed and raised.
        charge = pi.latest_charge
        error = card_error(
            charge.failure_code or "card_declined",
            "generic_decline" if (charge.failure_code or "card_declined") == "card_declined" else None,
            charge.failure_message or "Your card was declined.",
            charge=charge.id,
            payment_method=pm._export(),
        )
        pi._paylink_error = error
        pi.payment_method = None
        body = dict(error)
        body["payment_intent"] = pi._export()
        return error_response(402, body)
    return server.json_response(pi._export())


# ---------------------------------------------------------------------------------------------
# POST /v1/payment_intents/{id}/_authenticate (localstripe's 3D Secure step) as Stripe
# documents the outcome: a failed check sends `payment_intent.payment_failed`
# (localstripe sends nothing), and a charge declined after a passed check is a `card_error`
# with the PaymentIntent back in `requires_payment_method`, `payment_method` null.
# ---------------------------------------------------------------------------------------------
AUTHENTICATE = re.compile(r"^/v1/payment_intents/(pi_\w+)/_authenticate$")


@web.middleware
async def authenticate_middleware(request, handler):
    m = AUTHENTICATE.match(request.path) if request.method == "POST" else None
    if not m:
        return await handler(request)
    try:
        response = await handler(request)
    except UserError as e:
        if e.code != 402:
            raise
        pi = PaymentIntent._api_retrieve(m.group(1))
        charge = pi.latest_charge
        error = card_error(
            "card_declined",
            "generic_decline",
            (charge.failure_message if charge else None) or "Your card was declined.",
            charge=charge.id if charge else None,
        )
        pi._paylink_error = error
        pi.payment_method = None
        body = dict(error)
        body["payment_intent"] = pi._export()
        return error_response(402, body)
    if response.status == 200:
        pi = PaymentIntent._api_retrieve(m.group(1))
        if pi._authentication_failed:
            schedule_webhook(Event("payment_intent.payment_failed", pi))
    return response


# ---------------------------------------------------------------------------------------------
# 1. Idempotency-Key (https://docs.stripe.com/api/idempotent_requests): on a POST made with a
# secret key, a key already used (per API key, kept 24 hours) answers the first request's
# status and body again without doing anything; the same key with another endpoint or other
# parameters is refused with 400 idempotency_error; a key whose first request is still running
# gets 409. Only results of requests that started executing are kept: not 400 validation
# errors, 401 or 409. localstripe ignores the header.
# ---------------------------------------------------------------------------------------------
IDEMPOTENCY_TTL = 24 * 3600
_idempotency = {}  # (api key, idempotency key) -> dict


@web.middleware
async def idempotency_middleware(request, handler):
    idem_key = request.headers.get("Idempotency-Key")
    if request.method != "POST" or idem_key is None:
        return await handler(request)
    try:
        api_key = server.get_api_key(request)
    except (UnboundLocalError, ValueError):  # an Authorization scheme other than Basic/Bearer
        api_key = None
    if api_key is None:
        return await handler(request)
    if not idem_key or len(idem_key) > 255:
        return error_response(
            400,
            {
                "type": "invalid_request_error",
                "message": "Invalid idempotency key: keys can be up to 255 characters long.",
            },
        )

    now = time.time()
    for k in [k for k, v in _idempotency.items() if now - v["at"] > IDEMPOTENCY_TTL]:
        del _idempotency[k]

    params = await server.get_post_data(request, remove_auth=False) or {}
    fingerprint = json.dumps(
        {"body": params, "query": server.unflatten_data(request.query)},
        sort_keys=True,
        default=str,
    )
    slot = (api_key, idem_key)
    saved = _idempotency.get(slot)
    if saved is not None:
        if saved["path"] != request.path:
            return error_response(
                400,
                {
                    "type": "idempotency_error",
                    "message": "Keys for idempotent requests can only be used for the same "
                    "endpoint they were first used for ('%s' vs '%s'). Try using a key other "
                    "than '%s' if you meant to execute a different request." % (saved["path"], request.path, idem_key),
                },
            )
        if saved["fingerprint"] != fingerprint:
            return error_response(
                400,
                {
                    "type": "idempotency_error",
                    "message": "Keys for idempotent requests can only be used with the same "
                    "parameters they were first used with. Try using a key other than '%s' if "
                    "you meant to execute a different request." % idem_key,
                },
            )
        if saved["status"] is None:
            return error_response(
                409,
                {
                    "type": "invalid_request_error",
                    "code": "idempotency_key_in_use",
                    "message": "There is currently another in-progress request using this "
                    "Idempotent Key (that probably means you submitted twice, and the other "
                    "request is still going through): %s. Please try again later." % idem_key,
                },
            )
        response = web.Response(
            body=saved["body"],
            status=saved["status"],
            content_type=saved["content_type"],
        )
        response.headers["Idempotency-Key"] = idem_key
        response.headers["Idempotent-Replayed"] = "true"
        return response

    _idempotency[slot] = {
        "path": request.path,
        "fingerprint": fingerprint,
        "status": None,
        "at": now,
    }
    try:
        response = await handler(request)
    except BaseException:
        del _idempotency[slot]
        raise
    status = response.status
    body = getattr(response, "body", None)
    if (status < 400 or status == 402 or status >= 500) and isinstance(body, bytes):
        _idempotency[slot].update(status=status, body=body, content_type=response.content_type)
    else:
        del _idempotency[slot]
    response.headers["Idempotency-Key"] = idem_key
    return response


# ---------------------------------------------------------------------------------------------
# CORS preflight. A page on another origin (Paylink's) calling the wrapper with a JSON body
# sends OPTIONS first; localstripe answers it 401 or 405. Stripe's API answers it.
# ---------------------------------------------------------------------------------------------
@web.middleware
async def preflight_middleware(request, handler):
    if request.method == "OPTIONS":
        return web.Response(status=204)
    return await handler(request)


# 3. Our fake Stripe.js (Payment Element, stripe.confirmPayment) at Stripe.js's path, in place
# of localstripe-v3.js, which has only a card Element and no confirmPayment.
async def stripe_js(request):
    with open(ADAPTER_JS, encoding="utf-8") as f:
        text = f.read()
    response = web.Response(text=text, content_type="application/javascript")
    response.headers["Cache-Control"] = "no-store"
    return response


@web.middleware
async def stripe_js_middleware(request, handler):
    if request.path == "/js.stripe.com/v3/" and request.method in ("GET", "HEAD"):
        return await stripe_js(request)
    return await handler(request)


# Routes under /_paylink/ check their own credentials (a publishable key and a client
# secret); localstripe's auth_middleware would want a secret key.
@web.middleware
async def auth_middleware(request, handler):
    if request.path.startswith("/_paylink/"):
        return await handler(request)
    return await server.auth_middleware(request, handler)


# 5. A bare page for tests of the adapter without a Paylink server.
DEMO = """<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>localstripe Payment Element demo</title>
<script src="/js.stripe.com/v3/"></script></head>
<body>
<main>
<h1>Pay</h1>
<form id="payment-form">
<div id="payment-element"></div>
<button type="submit" id="pay">Pay</button>
</form>
<p>Result: <output id="result"></output></p>
</main>
<script>
const stripe = Stripe(%(pk)s);
const elements = stripe.elements({clientSecret: %(cs)s, appearance: {theme: 'stripe'}});
const el = elements.create('payment', {layout: 'tabs'});
el.on('ready', () => document.body.dataset.ready = 'true');
el.on('change', e => document.body.dataset.complete = String(e.complete));
el.mount('#payment-element');
document.getElementById('payment-form').addEventListener('submit', async ev => {
  ev.preventDefault();
  const {error, paymentIntent} = await stripe.confirmPayment({
    elements, redirect: 'if_required', confirmParams: {return_url: location.href}});
  document.getElementById('result').textContent =
    error ? ('error ' + error.type + ' ' + (error.code || '')).trim() : paymentIntent.status;
});
</script>
</body>
</html>
"""


async def demo(request):
    def js(name):
        # JSON inside a <script>: no "</" can close it.
        return json.dumps(request.query.get(name, "")).replace("<", "\\u003c")

    text = DEMO % {"pk": js("pk"), "cs": js("cs")}
    return web.Response(text=text, content_type="text/html")


# stripe.retrievePaymentIntent(clientSecret): the PaymentIntent for its publishable key and
# client secret (https://docs.stripe.com/js/payment_intents/retrieve_payment_intent).
# localstripe's GET /v1/payment_intents/{id} wants a secret key.
async def payment_intent(request):
    key = request.query.get("key", "")
    if not key.startswith("pk_") or len(key) <= 5:
        raise UserError(401, "Invalid API Key provided")
    return server.json_response(pi_from_client_secret(request.query.get("client_secret"))._export())


async def health(request):
    return web.Response(text="ok\n")


# 6. Search (GET /v1/payment_intents/search?query=metadata['k']:'v'): Stripe documents it;
# localstripe has none, and its /v1/payment_intents/{id} route would take "search" for an
# id. Only the one clause Paylink sends is understood: a metadata value, exactly.
SEARCH = re.compile(r"^metadata\['([^'\]]+)'\]:'([^']*)'$")


# 7. Listing a customer's PaymentIntents (GET /v1/payment_intents?customer=…): Stripe
# documents the filter; localstripe refuses every filter ("Unexpected customer").
def _list_of_customer(request):
    customer = request.query.get("customer")
    found = [o for k, o in list(store.items())
             if k.startswith("payment_intent:") and o.customer == customer]
    found.sort(key=lambda o: o.created, reverse=True)
    limit = int(request.query.get("limit", "10") or 10)
    return web.json_response({"object": "list", "url": "/v1/payment_intents",
                              "has_more": len(found) > limit,
                              "data": [o._export() for o in found[:limit]]})


@web.middleware
async def search_middleware(request, handler):
    if (request.method == "GET" and request.path == "/v1/payment_intents"
            and "customer" in request.query):
        if server.get_api_key(request) is None:
            return error_response(401, {"type": "invalid_request_error", "message": "Unauthorized"})
        return _list_of_customer(request)
    if request.method != "GET" or request.path != "/v1/payment_intents/search":
        return await handler(request)
    if server.get_api_key(request) is None:
        return error_response(401, {"type": "invalid_request_error", "message": "Unauthorized"})
    m = SEARCH.match(request.query.get("query", ""))
    if not m:
        return error_response(400, {"type": "invalid_request_error",
                                    "message": "localstripe_plus understands metadata['k']:'v' only"})
    key, value = m.group(1), m.group(2)
    found = [o for k, o in list(store.items())
             if k.startswith("payment_intent:") and (o.metadata or {}).get(key) == value]
    found.sort(key=lambda o: o.created, reverse=True)
    body = {"object": "search_result", "url": "/v1/payment_intents/search",
            "has_more": False, "data": [o._export() for o in found]}
    return web.json_response(body)


def build_app():
    app = server.app
    middlewares = list(app.middlewares)
    i = middlewares.index(server.auth_middleware)
    middlewares[i] = auth_middleware
    # error_middleware turns localstripe's UserError into responses; the idempotency layer
    # sits outside it to see (and keep) those responses.
    middlewares = (
        [preflight_middleware, idempotency_middleware, stripe_js_middleware, search_middleware]
        + middlewares[:1]
        + [authenticate_middleware]
        + middlewares[1:]
    )
    app.middlewares.clear()
    app.middlewares.extend(middlewares)
    app.router.add_post("/_paylink/confirm_payment", confirm_payment)
    app.router.add_get("/_paylink/demo", demo)
    app.router.add_get("/_paylink/payment_intent", payment_intent)
    app.router.add_get("/_paylink/health", health)
    # CORS headers as localstripe sets them, with the headers Stripe's clients send.
    app.on_response_prepare.append(_cors_headers)
    return app


async def _cors_headers(request, response):
    if request.headers.get("Origin"):
        response.headers["Access-Control-Allow-Headers"] = (
            "Content-Type, Accept, Authorization, Idempotency-Key, Stripe-Version"
        )


def main():
    global DATA_FILE
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=8420)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument(
        "--data-file",
        default=os.environ.get("LOCALSTRIPE_DATA_FILE"),
        help="where the store is kept between runs (default: nowhere)",
    )
    parser.add_argument("--from-scratch", action="store_true")
    args = parser.parse_args()
    DATA_FILE = args.data_file
    if not args.from_scratch:
        store.try_load_from_disk()

    logger = logging.getLogger("aiohttp.access")
    logger.setLevel(logging.DEBUG)
    logger.addHandler(logging.StreamHandler())
    print("localstripe_plus on http://%s:%d" % (args.host, args.port), file=sys.stderr, flush=True)
    web.run_app(build_app(), host=args.host, port=args.port, access_log=logger, print=None)


assert resources.store is store
if __name__ == "__main__":
    main()
