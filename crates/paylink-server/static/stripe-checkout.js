// The Stripe payment of a checkout session: Stripe's Payment Element takes the card (in
// Stripe's own frame), Stripe.js confirms the PaymentIntent (3-D Secure included), then
// Paylink is asked to record it — and records only what Stripe itself says.
(function () {
  'use strict';
  var form = document.getElementById('stripe-form');
  if (!form) return;
  var errorBox = document.getElementById('error');
  var button = document.getElementById('pay');
  var d = form.dataset;
  function fail(message) {
    errorBox.textContent = message;
    errorBox.hidden = false;
    button.disabled = false;
    button.removeAttribute('aria-busy');
  }
  if (typeof window.Stripe !== 'function') {
    fail("Stripe's card form could not be loaded. Check your connection and reload the page.");
    button.disabled = true;
    return;
  }
  var stripe = window.Stripe(d.pk);
  var elements = stripe.elements({ clientSecret: d.intent });
  var element = elements.create('payment', { layout: 'tabs' });
  element.mount('#payment-element');
  element.on('ready', function () { button.disabled = false; });

  function record(stripeError) {
    return fetch('/api/public/checkout_sessions/' + encodeURIComponent(d.session) + '/pay', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ client_secret: d.secret, payment_method: { type: 'stripe' } })
    }).then(function (res) {
      return res.json().catch(function () { return {}; });
    }).then(function (body) {
      if (body.status === 'succeeded' && body.redirect_url) {
        window.location.assign(body.redirect_url);
        return;
      }
      var message = (body.error && body.error.message) ||
        (stripeError && stripeError.message) ||
        'The payment could not be completed. Try again.';
      fail(message);
    }, function () {
      fail('We could not reach the server. Your payment may have gone through: reload this page before trying again.');
    });
  }

  form.addEventListener('submit', function (ev) {
    ev.preventDefault();
    button.disabled = true;
    button.setAttribute('aria-busy', 'true');
    errorBox.hidden = true;
    // A free trial saves the card (a SetupIntent); anything else is paid now.
    var confirm = d.intent.indexOf('seti_') === 0 ? stripe.confirmSetup : stripe.confirmPayment;
    confirm.call(stripe, {
      elements: elements,
      redirect: 'if_required',
      confirmParams: { return_url: d.returnUrl }
    }).then(function (result) {
      var e = result && result.error;
      // A card's refusal is recorded too (Paylink reads it from Stripe); a form that was
      // not filled in is only Stripe.js's to say.
      if (e && e.type !== 'card_error') {
        fail(e.message || 'Check the card details.');
        return;
      }
      return record(e);
    });
  });

  // Back from a payment method that redirects (Stripe adds `payment_intent` to the URL), or
  // reloaded after an answer was lost: a payment Stripe already has is recorded, not made
  // again.
  var back = new URLSearchParams(window.location.search);
  if (back.has('payment_intent') || back.has('setup_intent')) {
    button.disabled = true;
    record(null);
  } else {
    var setup = d.intent.indexOf('seti_') === 0;
    var retrieve = setup ? stripe.retrieveSetupIntent : stripe.retrievePaymentIntent;
    if (typeof retrieve !== 'function') return;
    retrieve.call(stripe, d.intent).then(function (r) {
      var pi = r && (setup ? r.setupIntent : r.paymentIntent);
      if (pi && (pi.status === 'succeeded' || pi.status === 'processing')) {
        button.disabled = true;
        record(null);
      }
    }, function () {});
  }
})();
