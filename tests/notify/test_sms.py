"""SMS backends: the console list, and the Aliyun adapter against a local HTTP server."""

from __future__ import annotations

import json
import time

import pytest

from tests.notify.sms_server import FakeAliyun
from wellness.notify import sms


def test_rpc_signature_matches_the_documented_example():
    # The worked example in Alibaba Cloud's SMS "HTTP protocol and signature" documentation.
    params = {
        "AccessKeyId": "testId",
        "Action": "SendSms",
        "Format": "XML",
        "OutId": "123",
        "PhoneNumbers": "15300000001",
        "RegionId": "cn-hangzhou",
        "SignName": "阿里云短信测试专用",
        "SignatureMethod": "HMAC-SHA1",
        "SignatureNonce": "45e25e9b-0a6f-4070-8c85-2956eda1b466",
        "SignatureVersion": "1.0",
        "TemplateCode": "SMS_71390007",
        "TemplateParam": '{"customer":"test"}',
        "Timestamp": "2017-07-12T02:42:19Z",
        "Version": "2017-05-25",
    }
    assert sms.rpc_signature("GET", params, "testSecret") == "zJDF+Lrzhj/ThnlvIToysFRq6t4="
    assert sms.percent_encode("a b*~/") == "a%20b%2A~%2F"


def test_console_backend_records_and_clears():
    sms.clear_sent()
    backend = sms.backend_for({"SMS_BACKEND": "console"})
    message_id = backend.send("+8613700000001", "你好", reference="outbox-1")
    assert sms.sent_messages() == [
        {
            "id": message_id,
            "phone": "+8613700000001",
            "text": "你好",
            "reference": "outbox-1",
            "code": None,
        }
    ]
    sms.clear_sent()
    assert sms.sent_messages() == []
    with pytest.raises(ValueError):
        sms.backend_for({"SMS_BACKEND": "pigeon"})


def test_aliyun_sends_a_signed_notice():
    with FakeAliyun() as fake:
        backend = sms.backend_for(fake.config())
        provider_id = backend.send(
            "+8613700000001", "【职工心理服务】您有一条新消息，请登录查看。", reference="outbox-7"
        )
    assert provider_id == "biz-42"
    (params,) = fake.requests
    assert params["PhoneNumbers"] == "13700000001"
    assert params["TemplateCode"] == "SMS_NOTICE_1"
    assert json.loads(params["TemplateParam"]) == {"title": "您有一条新消息，请登录查看。"}
    assert params["OutId"] == "outbox-7" and params["SignName"] == "职工心理服务"
    assert params["Action"] == "SendSms" and params["Version"] == "2017-05-25"


def test_aliyun_maps_a_one_time_code_to_the_code_template():
    with FakeAliyun() as fake:
        backend = sms.backend_for(fake.config())
        backend.send("+8613700000001", "验证码 493817，10 分钟内有效", reference="r", code="493817")
    assert fake.requests[0]["TemplateCode"] == "SMS_CODE_1"
    assert json.loads(fake.requests[0]["TemplateParam"]) == {"code": "493817"}
    assert sms.one_time_code("验证码 493817，10 分钟内有效") == "493817"
    assert sms.one_time_code("没有数字") is None


def test_aliyun_wrong_secret_is_refused_by_the_signature_check():
    with FakeAliyun() as fake:
        config = fake.config() | {"SMS_ALIYUN_ACCESS_KEY_SECRET": "wrong"}
        with pytest.raises(sms.SmsTransportError, match="SignatureDoesNotMatch"):
            sms.backend_for(config).send("+8613700000001", "x", reference="r")


def test_aliyun_error_answer_is_a_transport_error():
    with FakeAliyun() as fake:
        fake.mode = "error"
        with pytest.raises(sms.SmsTransportError, match="BUSINESS_LIMIT_CONTROL"):
            sms.backend_for(fake.config()).send("+8613700000001", "x", reference="r")


def test_aliyun_hanging_provider_times_out():
    with FakeAliyun() as fake:
        fake.mode = "hang"
        started = time.monotonic()
        with pytest.raises(sms.SmsTransportError):
            sms.backend_for(fake.config(timeout=1)).send("+8613700000001", "x", reference="r")
        assert time.monotonic() - started < 3


def test_aliyun_provider_down_is_a_transport_error():
    with FakeAliyun() as fake:
        config = fake.config()
    # The server is shut down: nothing listens on that port any more.
    with pytest.raises(sms.SmsTransportError):
        sms.backend_for(config).send("+8613700000001", "x", reference="r")
