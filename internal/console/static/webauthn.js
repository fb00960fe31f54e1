// Security keys and passkeys. The browser's WebAuthn API takes and gives
// binary values; the server speaks JSON with them in base64url. This script
// converts between the two, asks the browser, and sends the answer in an
// ordinary form, which the server checks. It stores nothing.
"use strict";
(function () {
  function decode(s) {
    var b = atob(s.replace(/-/g, "+").replace(/_/g, "/") + "===".slice((s.length + 3) % 4));
    var out = new Uint8Array(b.length);
    for (var i = 0; i < b.length; i++) {
      out[i] = b.charCodeAt(i);
    }
    return out.buffer;
  }

  function encode(buf) {
    var bytes = new Uint8Array(buf), s = "";
    for (var i = 0; i < bytes.length; i++) {
      s += String.fromCharCode(bytes[i]);
    }
    return btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function descriptors(list) {
    return (list || []).map(function (c) {
      var d = { type: c.type, id: decode(c.id) };
      if (c.transports) {
        d.transports = c.transports;
      }
      return d;
    });
  }

  function creationOptions(o) {
    var pk = o.publicKey;
    pk.challenge = decode(pk.challenge);
    pk.user.id = decode(pk.user.id);
    pk.excludeCredentials = descriptors(pk.excludeCredentials);
    return { publicKey: pk };
  }

  function requestOptions(o) {
    var pk = o.publicKey;
    pk.challenge = decode(pk.challenge);
    pk.allowCredentials = descriptors(pk.allowCredentials);
    return { publicKey: pk };
  }

  // answer is the JSON of a credential as the server parses it.
  function answer(cred) {
    var r = cred.response;
    var out = {
      id: cred.id,
      rawId: encode(cred.rawId),
      type: cred.type,
      clientExtensionResults: cred.getClientExtensionResults ? cred.getClientExtensionResults() : {},
      response: { clientDataJSON: encode(r.clientDataJSON) }
    };
    if (cred.authenticatorAttachment) {
      out.authenticatorAttachment = cred.authenticatorAttachment;
    }
    if (r.attestationObject) {
      out.response.attestationObject = encode(r.attestationObject);
      if (r.getTransports) {
        out.response.transports = r.getTransports();
      }
    } else {
      out.response.authenticatorData = encode(r.authenticatorData);
      out.response.signature = encode(r.signature);
      if (r.userHandle) {
        out.response.userHandle = encode(r.userHandle);
      }
    }
    return JSON.stringify(out);
  }

  function say(text, bad) {
    var p = document.getElementById("passkey-status");
    if (p) {
      p.textContent = text;
      p.classList.toggle("error", !!bad);
    }
  }

  function failed(err) {
    var why = err && err.name === "NotAllowedError" ?
      "The security key was not used: the request was cancelled or timed out. Try again." :
      (err && err.message) || "The security key could not be used.";
    say(why, true);
  }

  // options asks the console for a ceremony's options.
  function options(url, form) {
    var body = new URLSearchParams();
    body.set("csrf", form.elements.csrf.value);
    return fetch(url, { method: "POST", body: body, credentials: "same-origin" }).then(function (r) {
      return r.json().then(function (j) {
        if (!r.ok) {
          throw new Error(j.error || "the console refused the request");
        }
        return j;
      });
    });
  }

  function supported() {
    if (window.PublicKeyCredential && navigator.credentials && window.fetch) {
      return true;
    }
    say("This browser cannot use security keys or passkeys.", true);
    return false;
  }

  // A form is sent once its hidden field holds the key's answer.
  function onSubmit(form, field, ask) {
    form.addEventListener("submit", function (ev) {
      if (form.elements[field].value !== "") {
        return;
      }
      ev.preventDefault();
      if (!supported()) {
        return;
      }
      say("Touch your security key, or confirm with your device.");
      ask().then(function (cred) {
        form.elements[field].value = answer(cred);
        form.submit();
      }).catch(failed);
    });
  }

  var add = document.getElementById("passkey-form");
  if (add) {
    onSubmit(add, "credential", function () {
      return options(add.getAttribute("data-begin"), add).then(function (o) {
        return navigator.credentials.create(creationOptions(o));
      });
    });
  }

  var signIn = document.getElementById("passkey-signin-form");
  if (signIn) {
    onSubmit(signIn, "credential", function () {
      return navigator.credentials.get(requestOptions(JSON.parse(signIn.getAttribute("data-options"))));
    });
  }

  Array.prototype.forEach.call(document.querySelectorAll("form.passkey-remove"), function (form) {
    form.addEventListener("submit", function (ev) {
      if (form.elements.code.value.trim() !== "" || form.elements.assertion.value !== "") {
        return;
      }
      ev.preventDefault();
      if (!supported()) {
        return;
      }
      say("Touch one of your security keys to confirm the removal.");
      options("/mfa/passkeys/reauth", form).then(function (o) {
        return navigator.credentials.get(requestOptions(o));
      }).then(function (cred) {
        form.elements.assertion.value = answer(cred);
        form.submit();
      }).catch(failed);
    });
  });
})();
