"""A fake WeChat Pay API v3 server for Kabao's interop tests, built on the wechatpayv3 SDK (2.0.4).

It generates per run a merchant key pair (Kabao signs with the private half), a platform key pair with a
self-signed platform certificate, and an API v3 key, and prints them as one JSON line on stdout with the port it
listens on. Then it:
- verifies every request's Authorization with the SDK's `rsa_verify` against the merchant public key,
- serves Native/H5 create, query by out-trade-no and refunds (idempotent by out_refund_no), signing every answer
  with the SDK's `rsa_sign` and the platform private key,
- on `POST /control/notify` builds a TRANSACTION.SUCCESS notification (resource encrypted with AES-GCM from
  `cryptography`, read back with the SDK's `aes_decrypt`), signs it, checks that the SDK's own client
  (`WeChatPay(..., public_key=..., public_key_id=...).callback`) accepts it, and returns headers and body for
  the test to post to Kabao (as is, or tampered with),
- `POST /control/pay` marks a trade paid without notifying, `POST /control/mode` sets modes
  (`slow_next_refund` seconds, `refuse_refunds`, `serial`: `public_key` or `cert`), `GET /control/state` returns what it recorded.

Usage: python wechatpay_gateway.py  (listens on 127.0.0.1, port chosen by the system)
"""

import base64
import datetime
import json
import os
import re
import secrets
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.x509.oid import NameOID
from wechatpayv3 import WeChatPay, WeChatPayType
from wechatpayv3.utils import aes_decrypt, rsa_sign, rsa_verify

MCH_ID = "1900000109"
APP_ID = "wxd678efh567hg6787"
MERCHANT_SERIAL = "3775B6A45ACD588826D15E583A95F5DD2C3C4C0B"
PUBLIC_KEY_ID = "PUB_KEY_ID_0119000001092026120600000000"


def pem_private(key):
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def pem_public(key):
    return key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()


merchant_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
platform_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
api_v3_key = secrets.token_hex(16)  # 32 ASCII bytes
name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Tenpay.com Root CA")])
now = datetime.datetime.now(datetime.timezone.utc)
platform_cert = (
    x509.CertificateBuilder()
    .subject_name(name)
    .issuer_name(name)
    .public_key(platform_key.public_key())
    .serial_number(x509.random_serial_number())
    .not_valid_before(now - datetime.timedelta(days=1))
    .not_valid_after(now + datetime.timedelta(days=365))
    .sign(platform_key, hashes.SHA256())
)
CERT_SERIAL = format(platform_cert.serial_number, "X")

lock = threading.Lock()
state = {
    "requests": [],  # {method, path, body, signature_ok}
    "trades": {},  # out_trade_no -> trade
    "refunds": {},  # out_refund_no -> refund
    "refund_calls": 0,
    "mode": {"slow_next_refund": 0.0, "refuse_refunds": False, "serial": "public_key"},
    "bad_signatures": 0,
}

# The SDK's own client, in the public-key mode: proves that what this fake notifies is what the SDK accepts.
sdk = WeChatPay(
    wechatpay_type=WeChatPayType.NATIVE,
    mchid=MCH_ID,
    private_key=pem_private(merchant_key),
    cert_serial_no=MERCHANT_SERIAL,
    appid=APP_ID,
    apiv3_key=api_v3_key,
    public_key=pem_public(platform_key),
    public_key_id=PUBLIC_KEY_ID,
)


def signed_headers(body, timestamp=None):
    """Signed as WeChat Pay signs, naming the public key's id, or the certificate's serial in `serial: cert` mode."""
    serial = CERT_SERIAL if state["mode"]["serial"] == "cert" else PUBLIC_KEY_ID
    timestamp = str(int(time.time()) if timestamp is None else timestamp)
    nonce = secrets.token_hex(16)
    signature = rsa_sign(platform_key, "%s\n%s\n%s\n" % (timestamp, nonce, body))
    return {
        "Wechatpay-Timestamp": timestamp,
        "Wechatpay-Nonce": nonce,
        "Wechatpay-Signature": signature,
        "Wechatpay-Serial": serial,
        "Wechatpay-Signature-Type": "WECHATPAY2-SHA256-RSA2048",
    }


def parse_authorization(value):
    if not value or not value.startswith("WECHATPAY2-SHA256-RSA2048 "):
        return None
    fields = dict(re.findall(r'(\w+)="([^"]*)"', value[len("WECHATPAY2-SHA256-RSA2048 "):]))
    return fields


def transaction_view(t):
    view = {
        "appid": t["appid"],
        "mchid": t["mchid"],
        "out_trade_no": t["out_trade_no"],
        "trade_state": t["trade_state"],
        "trade_state_desc": t["trade_state"],
        "amount": {"total": t["total"], "payer_total": t["total"], "currency": "CNY", "payer_currency": "CNY"},
    }
    if t["trade_state"] in ("SUCCESS", "REFUND"):
        view.update(
            {
                "transaction_id": t["transaction_id"],
                "trade_type": t["trade_type"],
                "bank_type": "OTHERS",
                "success_time": "2026-12-06T10:00:00+08:00",
                "payer": {"openid": t["openid"]},
            }
        )
    return view


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def answer(self, status, obj, timestamp=None):
        body = "" if obj is None else json.dumps(obj, ensure_ascii=False)
        raw = body.encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        if not self.path.startswith("/control/"):
            for k, v in signed_headers(body, timestamp).items():
                self.send_header(k, v)
        self.end_headers()
        self.wfile.write(raw)

    def read_body(self):
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length).decode("utf-8") if length else ""

    def check_signature(self, method, body):
        """Kabao's request signature, checked with the SDK's rsa_verify: the SDK documents the request message as
        METHOD\\nURL\\ntimestamp\\nnonce\\nbody\\n, which is rsa_verify's timestamp\\nnonce\\nbody\\n with
        METHOD\\nURL\\n in front."""
        auth = parse_authorization(self.headers.get("Authorization"))
        ok = (
            auth is not None
            and auth.get("mchid") == MCH_ID
            and auth.get("serial_no") == MERCHANT_SERIAL
            and rsa_verify(
                "%s\n%s\n%s" % (method, self.path, auth.get("timestamp", "")),
                auth.get("nonce_str", ""),
                body,
                auth.get("signature", ""),
                merchant_key.public_key(),
            )
            and abs(int(auth.get("timestamp", "0")) - time.time()) <= 300
        )
        with lock:
            state["requests"].append(
                {
                    "method": method,
                    "path": self.path,
                    "body": body,
                    "signature_ok": bool(ok),
                    "wechatpay_serial": self.headers.get("Wechatpay-Serial"),
                }
            )
            if not ok:
                state["bad_signatures"] += 1
        return ok

    def do_GET(self):
        if self.path == "/control/state":
            with lock:
                return self.answer(200, state)
        if not self.check_signature("GET", ""):
            return self.answer(401, {"code": "SIGN_ERROR", "message": "签名错误"})
        url = urlsplit(self.path)
        m = re.fullmatch(r"/v3/pay/transactions/out-trade-no/([^/]+)", url.path)
        if m:
            if parse_qs(url.query).get("mchid") != [MCH_ID]:
                return self.answer(400, {"code": "PARAM_ERROR", "message": "mchid"})
            with lock:
                t = state["trades"].get(m.group(1))
                view = transaction_view(t) if t else None
            if view is None:
                return self.answer(404, {"code": "ORDER_NOT_EXIST", "message": "订单不存在"})
            return self.answer(200, view)
        return self.answer(404, {"code": "NOT_FOUND", "message": self.path})

    def do_POST(self):
        body = self.read_body()
        if self.path.startswith("/control/"):
            return self.control(json.loads(body or "{}"))
        if not self.check_signature("POST", body):
            return self.answer(401, {"code": "SIGN_ERROR", "message": "签名错误"})
        req = json.loads(body)
        if self.path in ("/v3/pay/transactions/native", "/v3/pay/transactions/h5"):
            h5 = self.path.endswith("/h5")
            if req.get("mchid") != MCH_ID or req.get("appid") != APP_ID:
                return self.answer(400, {"code": "PARAM_ERROR", "message": "mchid/appid"})
            if h5 and not (req.get("scene_info", {}).get("payer_client_ip") and req["scene_info"].get("h5_info", {}).get("type") == "Wap"):
                return self.answer(400, {"code": "PARAM_ERROR", "message": "scene_info"})
            no = req["out_trade_no"]
            with lock:
                state["trades"].setdefault(
                    no,
                    {
                        "appid": APP_ID,
                        "mchid": MCH_ID,
                        "out_trade_no": no,
                        "trade_state": "NOTPAY",
                        "total": req["amount"]["total"],
                        "trade_type": "MWEB" if h5 else "NATIVE",
                        "transaction_id": "42000%015d" % (len(state["trades"]) + 1),
                        "openid": "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o",
                        "notify_url": req.get("notify_url"),
                        "description": req.get("description"),
                    },
                )
            if h5:
                return self.answer(200, {"h5_url": "https://wx.tenpay.com/cgi-bin/mmpayweb-bin/checkmweb?prepay_id=wx%s&package=1" % no})
            return self.answer(200, {"code_url": "weixin://wxpay/bizpayurl?pr=%s" % no})
        if self.path == "/v3/refund/domestic/refunds":
            return self.refund(req)
        return self.answer(404, {"code": "NOT_FOUND", "message": self.path})

    def refund(self, req):
        with lock:
            state["refund_calls"] += 1
            slow = state["mode"]["slow_next_refund"]
            state["mode"]["slow_next_refund"] = 0.0
            refuse = state["mode"]["refuse_refunds"]
            existing = state["refunds"].get(req.get("out_refund_no"))
            t = state["trades"].get(req.get("out_trade_no"))
        if existing:
            return self.answer(200, existing)
        if refuse:
            return self.answer(403, {"code": "NOT_ENOUGH", "message": "基本账户余额不足，请充值后重新发起"})
        if t is None or t["trade_state"] not in ("SUCCESS", "REFUND"):
            return self.answer(404, {"code": "RESOURCE_NOT_EXISTS", "message": "订单不存在"})
        amount = req.get("amount", {})
        if amount.get("total") != t["total"] or amount.get("currency") != "CNY" or not (0 < amount.get("refund", 0) <= t["total"]):
            return self.answer(400, {"code": "INVALID_REQUEST", "message": "金额不符"})
        refund = {
            "refund_id": "50000%015d" % (len(state["refunds"]) + 1),
            "out_refund_no": req["out_refund_no"],
            "transaction_id": t["transaction_id"],
            "out_trade_no": t["out_trade_no"],
            "channel": "ORIGINAL",
            "status": "SUCCESS",
            "reason": req.get("reason"),
            "amount": {"refund": amount["refund"], "total": t["total"], "currency": "CNY"},
        }
        with lock:
            # Recorded before any delay: a client that times out still caused the refund, as at the real gateway.
            refund = state["refunds"].setdefault(req["out_refund_no"], refund)
            t["trade_state"] = "REFUND"
        if slow:
            time.sleep(slow)
        return self.answer(200, refund)

    def control(self, req):
        path = self.path
        if path == "/control/mode":
            with lock:
                state["mode"].update(req)
            return self.answer(200, state["mode"])
        if path == "/control/pay":
            with lock:
                t = state["trades"].get(req["out_trade_no"])
                if t:
                    t["trade_state"] = "SUCCESS"
            return self.answer(200 if t else 404, {"paid": bool(t)})
        if path == "/control/notify":
            return self.answer(200, self.notify(req))
        return self.answer(404, {"error": path})

    def notify(self, req):
        """A signed, encrypted TRANSACTION.SUCCESS for a trade (marked paid), with overrides for the tests."""
        no = req["out_trade_no"]
        with lock:
            t = state["trades"].get(no)
            if t:
                t["trade_state"] = "SUCCESS"
            t = dict(t or {})
        resource = {
            "mchid": req.get("mchid", t.get("mchid", MCH_ID)),
            "appid": req.get("appid", t.get("appid", APP_ID)),
            "out_trade_no": no,
            "transaction_id": t.get("transaction_id", "4200000000000000000000"),
            "trade_type": t.get("trade_type", "NATIVE"),
            "trade_state": req.get("trade_state", "SUCCESS"),
            "trade_state_desc": "支付成功",
            "bank_type": "OTHERS",
            "attach": "",
            "success_time": "2026-12-06T10:00:00+08:00",
            "payer": {"openid": t.get("openid", "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o")},
            "amount": {"total": req.get("total", t.get("total", 1)), "payer_total": req.get("total", t.get("total", 1)), "currency": "CNY", "payer_currency": "CNY"},
        }
        plaintext = json.dumps(resource, ensure_ascii=False)
        nonce = secrets.token_hex(6)  # 12 characters, as WeChat Pay's
        associated_data = "transaction"
        ciphertext = base64.b64encode(
            AESGCM(api_v3_key.encode()).encrypt(nonce.encode(), plaintext.encode("utf-8"), associated_data.encode())
        ).decode()
        assert aes_decrypt(nonce, ciphertext, associated_data, api_v3_key) == plaintext, "the SDK reads it back"
        envelope = {
            "id": req.get("id", "EV-%s" % secrets.token_hex(8)),
            "create_time": "2026-12-06T10:00:01+08:00",
            "resource_type": "encrypt-resource",
            "event_type": req.get("event_type", "TRANSACTION.SUCCESS"),
            "summary": "支付成功",
            "resource": {
                "original_type": "transaction",
                "algorithm": "AEAD_AES_256_GCM",
                "ciphertext": ciphertext,
                "associated_data": associated_data,
                "nonce": nonce,
            },
        }
        body = json.dumps(envelope, ensure_ascii=False)
        headers = signed_headers(body, req.get("timestamp"))
        # The SDK's own callback handling: it must verify and decrypt what we send (its clock is the real one, so
        # its check is by signature and decryption; Kabao checks the timestamp against its own clock).
        decrypted = sdk.callback(headers, body)
        sdk_ok = bool(decrypted) and decrypted.get("resource", {}).get("out_trade_no") == no
        return {"headers": headers, "body": body, "sdk_accepts": sdk_ok}


def main():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    info = {
        "port": server.server_address[1],
        "mch_id": MCH_ID,
        "app_id": APP_ID,
        "merchant_serial": MERCHANT_SERIAL,
        "merchant_private_key": pem_private(merchant_key),
        "platform_public_key": pem_public(platform_key),
        "platform_key_id": PUBLIC_KEY_ID,
        "platform_cert": platform_cert.public_bytes(serialization.Encoding.PEM).decode(),
        "platform_cert_serial": CERT_SERIAL,
        "api_v3_key": api_v3_key,
    }
    print(json.dumps(info), flush=True)
    # Stop when the test that started us goes away (stdin closes).
    threading.Thread(target=lambda: (sys.stdin.read(), os._exit(0)), daemon=True).start()
    server.serve_forever()


if __name__ == "__main__":
    main()
