#!/usr/bin/env python3
"""A small fake Alipay open-platform gateway for Kabao's interop tests, built on python-alipay-sdk 3.4.0.

Every signature here is the SDK's: the SDK is constructed with the fake gateway's private key as its
"app_private_key" (so `sign_data` / `_sign` sign notifications and API answers as Alipay would) and Kabao's
application public key as its "alipay_public_key" (so `_verify` checks Kabao's requests).

Keys are generated per run. On start the script prints one JSON line to stdout:
    {"port": ..., "app_id": ..., "app_private_key": <Kabao's private key, PKCS#8 bare base64>,
     "alipay_public_key": <the gateway's public key, SPKI bare base64>}
(bare base64 is the form the open platform's key tool gives).

Routes:
    GET  /gateway.do   page pay / wap pay: the signed parameters are verified and recorded, a trade is opened.
    POST /gateway.do   alipay.trade.query, alipay.trade.refund (idempotent by out_request_no),
                       alipay.fund.trans.uni.transfer (idempotent by out_biz_no); answers signed by the SDK.
    POST /control      JSON commands from the test (see `control`).
"""

import argparse
import base64
import json
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from alipay import AliPay
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

APP_ID = "2021000000000001"
SELLER_ID = "2088000000000001"
CHINA = timezone(timedelta(hours=8))


def keypair():
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    private_der = key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    public_pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()
    public_der = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return private_pem, base64.b64encode(private_der).decode(), public_pem, base64.b64encode(public_der).decode()


GATEWAY_PRIVATE_PEM, _, _, GATEWAY_PUBLIC_B64 = keypair()
_, APP_PRIVATE_B64, APP_PUBLIC_PEM, _ = keypair()

# The SDK in the gateway's seat: it signs with the gateway's key and verifies with Kabao's public key.
SDK = AliPay(
    appid=APP_ID,
    app_notify_url=None,
    app_private_key_string=GATEWAY_PRIVATE_PEM,
    alipay_public_key_string=APP_PUBLIC_PEM,
    sign_type="RSA2",
)

LOCK = threading.Lock()
STATE = {
    "requests": [],  # every gateway.do call: method, verified, params
    "trades": {},  # out_trade_no -> trade
    "refunds": [],  # refunds actually made (one per out_request_no)
    "refund_answers": {},  # out_request_no -> first answer member
    "refuse_refunds": {},  # out_trade_no -> (sub_code, sub_msg)
    "slow_refund_seconds": 0,  # the next refund sleeps this long after recording it
    "transfers": [],  # transfers actually made (one per out_biz_no)
    "transfer_answers": {},  # out_biz_no -> first answer member
    "notifies": {},  # out_trade_no -> last notify body sent
}


def sdk_verify_request(params):
    """Kabao's request signature, checked by the SDK. Requests are signed over every parameter but `sign`
    (`sign_type` included), which is the SDK's own canonical string (`_ordered_data`, joined as its `verify`
    joins it) checked with its `_verify`; the SDK's `verify` drops `sign_type` as notifications need."""
    data = dict(params)
    sign = data.pop("sign", None)
    if not sign:
        return False
    message = "&".join("{}={}".format(k, v) for k, v in SDK._ordered_data(data))
    return SDK._verify(message, sign)


def now_text():
    return datetime.now(CHINA).strftime("%Y-%m-%d %H:%M:%S")


def signed_answer(method, member):
    """The synchronous answer: the member's JSON text (spaced as json.dumps spaces it, so a client that
    re-serialises instead of taking the exact text fails) signed by the SDK."""
    text = json.dumps(member, ensure_ascii=False)
    sign = SDK._sign(text)
    name = method.replace(".", "_") + "_response"
    return '{"%s": %s, "sign": "%s"}' % (name, text, sign)


def business_error(sub_code, sub_msg):
    return {"code": "40004", "msg": "Business Failed", "sub_code": sub_code, "sub_msg": sub_msg}


def trade_query(biz):
    trade = STATE["trades"].get(biz.get("out_trade_no"))
    if trade is None:
        return business_error("ACQ.TRADE_NOT_EXIST", "交易不存在")
    return {
        "code": "10000",
        "msg": "Success",
        "out_trade_no": trade["out_trade_no"],
        "trade_no": trade["trade_no"],
        "trade_status": trade["status"],
        "total_amount": trade["total_amount"],
        "buyer_logon_id": "buy***@example.com",
    }


def trade_refund(biz):
    out_request_no = biz.get("out_request_no") or biz.get("out_trade_no")
    first = STATE["refund_answers"].get(out_request_no)
    if first is not None:
        # The same refund asked again: the first result, and no money moves.
        return dict(first, fund_change="N"), 0
    trade = STATE["trades"].get(biz.get("out_trade_no"))
    if trade is None:
        return business_error("ACQ.TRADE_NOT_EXIST", "交易不存在"), 0
    refused = STATE["refuse_refunds"].get(trade["out_trade_no"])
    if refused:
        return business_error(*refused), 0
    if trade["status"] not in ("TRADE_SUCCESS", "TRADE_FINISHED"):
        return business_error("ACQ.TRADE_STATUS_ERROR", "交易状态不合法"), 0
    refunded = sum(int(round(float(r["refund_amount"]) * 100)) for r in STATE["refunds"] if r["out_trade_no"] == trade["out_trade_no"])
    amount = int(round(float(biz.get("refund_amount", "0")) * 100))
    if refunded + amount > int(round(float(trade["total_amount"]) * 100)):
        return business_error("ACQ.REFUND_AMT_NOT_EQUAL_TOTAL", "退款金额超限"), 0
    STATE["refunds"].append(
        {"out_trade_no": trade["out_trade_no"], "out_request_no": out_request_no, "refund_amount": biz["refund_amount"]}
    )
    answer = {
        "code": "10000",
        "msg": "Success",
        "out_trade_no": trade["out_trade_no"],
        "trade_no": trade["trade_no"],
        "buyer_logon_id": "buy***@example.com",
        "fund_change": "Y",
        "refund_fee": "%.2f" % ((refunded + amount) / 100),
    }
    STATE["refund_answers"][out_request_no] = answer
    slow = STATE["slow_refund_seconds"]
    STATE["slow_refund_seconds"] = 0
    return answer, slow


def transfer(biz):
    out_biz_no = biz.get("out_biz_no")
    first = STATE["transfer_answers"].get(out_biz_no)
    if first is not None:
        return first
    payee = biz.get("payee_info") or {}
    if biz.get("product_code") != "TRANS_ACCOUNT_NO_PWD" or payee.get("identity_type") != "ALIPAY_LOGON_ID":
        return business_error("INVALID_PARAMETER", "参数有误")
    if payee.get("identity") == "refuse@example.com":
        return business_error("PAYEE_NOT_EXIST", "收款账号不存在")
    order_id = "2026%016d" % (len(STATE["transfers"]) + 1)
    STATE["transfers"].append({"out_biz_no": out_biz_no, "trans_amount": biz.get("trans_amount"), "payee_info": payee, "order_id": order_id})
    answer = {
        "code": "10000",
        "msg": "Success",
        "out_biz_no": out_biz_no,
        "order_id": order_id,
        "pay_fund_order_id": "2026%016d" % (9000 + len(STATE["transfers"])),
        "status": "SUCCESS",
        "trans_date": now_text(),
    }
    STATE["transfer_answers"][out_biz_no] = answer
    return answer


def notify_body(trade, overrides):
    params = {
        "gmt_create": trade["created"],
        "gmt_payment": now_text(),
        "notify_time": now_text(),
        "notify_type": "trade_status_sync",
        "notify_id": uuid.uuid4().hex,
        "charset": "utf-8",
        "version": "1.0",
        "app_id": APP_ID,
        "auth_app_id": APP_ID,
        "seller_id": SELLER_ID,
        "out_trade_no": trade["out_trade_no"],
        "trade_no": trade["trade_no"],
        "trade_status": "TRADE_SUCCESS",
        "total_amount": trade["total_amount"],
        "receipt_amount": trade["total_amount"],
        "buyer_pay_amount": trade["total_amount"],
        "buyer_logon_id": "buy***@example.com",
        "subject": trade["subject"],
        "fund_bill_list": '[{"amount":"%s","fundChannel":"ALIPAYACCOUNT"}]' % trade["total_amount"],
    }
    params.update(overrides or {})
    # The SDK signs every parameter it is given; sign_type is added after, outside the signature, as Alipay does.
    return SDK.sign_data(params) + "&sign_type=RSA2"


def post_form(url, body):
    request = urllib.request.Request(
        url, data=body.encode(), method="POST", headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as res:
            return res.status, res.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def control(command):
    action = command.get("action")
    with LOCK:
        if action == "state":
            return {k: v for k, v in STATE.items() if k != "refuse_refunds"}
        if action == "refuse_refunds":
            STATE["refuse_refunds"][command["out_trade_no"]] = (command.get("sub_code", "ACQ.TRADE_NOT_ALLOW_REFUND"), command.get("sub_msg", "当前交易不允许退款"))
            return {"ok": True}
        if action == "slow_refund":
            STATE["slow_refund_seconds"] = float(command["seconds"])
            return {"ok": True}
        if action in ("pay", "notify"):
            # "pay": the payer pays (the trade is marked paid); then, by `notify`: "send" (POST a signed notify to
            # the trade's notify_url), "return" (hand the signed body to the test) or "none" (a lost notify).
            # "notify": a signed notify about `trade_of` (default: the trade itself) with `overrides`.
            trade = STATE["trades"].get(command["out_trade_no"])
            if trade is None:
                return {"error": "no such trade"}
            if action == "pay":
                trade["status"] = "TRADE_SUCCESS"
            source = STATE["trades"].get(command.get("trade_of") or trade["out_trade_no"], trade)
            body = notify_body(source, command.get("overrides"))
            STATE["notifies"][trade["out_trade_no"]] = body
            mode = command.get("notify", "send")
            url = trade["notify_url"]
        elif action == "resend":
            body = STATE["notifies"].get(command["out_trade_no"])
            trade = STATE["trades"].get(command["out_trade_no"])
            if body is None or trade is None:
                return {"error": "nothing sent yet"}
            mode, url = "send", trade["notify_url"]
        else:
            return {"error": "unknown action"}
    if mode == "send":
        status, text = post_form(url, body)
        return {"body": body, "status": status, "answer": text}
    return {"body": body}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        sys.stderr.write("alipay fake: " + fmt % args + "\n")

    def reply(self, status, body, content_type):
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def read_body(self):
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length).decode() if length else ""

    def do_GET(self):
        url = urllib.parse.urlsplit(self.path)
        if url.path != "/gateway.do":
            return self.reply(404, "not found", "text/plain")
        params = dict(urllib.parse.parse_qsl(url.query, keep_blank_values=True))
        verified = sdk_verify_request(params)
        method = params.get("method")
        with LOCK:
            STATE["requests"].append({"http": "GET", "method": method, "verified": verified, "params": params})
            if not verified or method not in ("alipay.trade.page.pay", "alipay.trade.wap.pay"):
                return self.reply(400, "invalid-signature or method", "text/plain; charset=utf-8")
            biz = json.loads(params["biz_content"])
            no = biz["out_trade_no"]
            if no not in STATE["trades"]:
                STATE["trades"][no] = {
                    "out_trade_no": no,
                    "trade_no": "2026%016d" % (len(STATE["trades"]) + 1),
                    "total_amount": biz["total_amount"],
                    "subject": biz.get("subject", ""),
                    "status": "WAIT_BUYER_PAY",
                    "notify_url": params.get("notify_url"),
                    "return_url": params.get("return_url"),
                    "product_code": biz.get("product_code"),
                    "created": now_text(),
                }
        return self.reply(200, "<html><body>支付宝收银台 (fake)</body></html>", "text/html; charset=utf-8")

    def do_POST(self):
        url = urllib.parse.urlsplit(self.path)
        if url.path == "/control":
            answer = control(json.loads(self.read_body() or "{}"))
            return self.reply(200, json.dumps(answer, ensure_ascii=False), "application/json")
        if url.path != "/gateway.do":
            return self.reply(404, "not found", "text/plain")
        content_type = self.headers.get("Content-Type", "")
        params = dict(urllib.parse.parse_qsl(self.read_body(), keep_blank_values=True))
        verified = sdk_verify_request(params) and content_type.startswith("application/x-www-form-urlencoded")
        method = params.get("method", "")
        slow = 0
        with LOCK:
            STATE["requests"].append({"http": "POST", "method": method, "verified": verified, "params": params})
            if not verified or params.get("app_id") != APP_ID:
                member = {"code": "40002", "msg": "Invalid Arguments", "sub_code": "isv.invalid-signature", "sub_msg": "验签出错"}
            else:
                biz = json.loads(params.get("biz_content") or "{}")
                if method == "alipay.trade.query":
                    member = trade_query(biz)
                elif method == "alipay.trade.refund":
                    member, slow = trade_refund(biz)
                elif method == "alipay.fund.trans.uni.transfer":
                    member = transfer(biz)
                else:
                    member = {"code": "40004", "msg": "Business Failed", "sub_code": "isv.invalid-method", "sub_msg": "不存在的方法名"}
            body = signed_answer(method or "error", member)
        if slow:
            time.sleep(slow)
        return self.reply(200, body, "text/html;charset=utf-8")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    server.daemon_threads = True
    print(
        json.dumps(
            {
                "port": server.server_address[1],
                "app_id": APP_ID,
                "app_private_key": APP_PRIVATE_B64,
                "alipay_public_key": GATEWAY_PUBLIC_B64,
            }
        ),
        flush=True,
    )
    server.serve_forever()


if __name__ == "__main__":
    main()
