#!/usr/bin/env python3
"""Writes tests/aws/sigv4_vectors.json: SigV4 signatures computed by botocore.

Each vector is one request as sentiflow's signer receives it (method, the full URL as sent on
the wire, headers, body, service, region, credentials, time) together with what botocore's
SigV4Auth (S3SigV4Auth for s3) makes of it at that fixed time: the canonical request, the
string to sign, the Authorization header and the headers it adds. tests/aws/sigv4_test.cc
checks that sentiflow's signer agrees on every one.

The file is checked in; rerun this script only when adding vectors:

    python3 tests/aws/make_sigv4_vectors.py > tests/aws/sigv4_vectors.json

How botocore is driven: the URL's query is handed to it as decoded `params`, so that botocore
itself RFC 3986-encodes and sorts them (given a URL with a query, it would trust the query's
encoding as written); the path is handed over as sent on the wire, already encoded once, as
botocore's own serializers do: S3SigV4Auth uses it as it is, SigV4Auth normalizes it and
encodes it a second time.
"""

import datetime
import json
import sys
from unittest import mock
from urllib.parse import quote

import botocore
from botocore.auth import S3SigV4Auth, SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials

# The example keys of AWS's own SigV4 documentation.
ACCESS_KEY = "AKIDEXAMPLE"
SECRET_KEY = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
# A session token with characters that need care: '/', '+', '='.
TOKEN = "IQoJb3JpZ2luX2VjEXAMPLE//////////wEaCXVzLWVhc3QtMSJGMEQCIF+tokenEXAMPLE=="
TIME = "2026-01-02T03:04:05Z"


def s3_path(bucket, key):
    """The wire path of an object: the key encoded once, '/' kept (as botocore's S3 serializer)."""
    return "/" + bucket + ("/" + quote(key.encode("utf-8"), safe="/~") if key is not None else "")


def encode_query(params):
    """The query as sentiflow sends it: RFC 3986, a valueless parameter as its bare name."""
    parts = []
    for name, value in params:
        name = quote(name.encode("utf-8"), safe="-_.~")
        parts.append(name if value is None else name + "=" + quote(value.encode("utf-8"), safe="-_.~"))
    return "&".join(parts)


def json_post(target, body, content_type="application/x-amz-json-1.0"):
    return {"method": "POST", "path": "/", "headers": [("Content-Type", content_type), ("X-Amz-Target", target)],
            "body": body}


# Each entry: id, what it shows, service, region, endpoint (scheme://host[:port]), method, path
# (as sent: already encoded), query (decoded (name, value) pairs, value None for a valueless
# parameter), raw_query (optional: the query exactly as written in the URL, when it is not
# already RFC 3986-encoded), headers, body, token, unsigned (S3 UNSIGNED-PAYLOAD), time.
VECTORS = [
    dict(id="s3-get-object-aws-docs", what="AWS's documented example: GET /test.txt with a Range header",
         service="s3", region="us-east-1", endpoint="https://examplebucket.s3.amazonaws.com", method="GET",
         path="/test.txt", headers=[("Range", "bytes=0-9")], time="2013-05-24T00:00:00Z"),
    dict(id="s3-put-key-with-spaces", what="PUT of a key with spaces, path-style, a body",
         service="s3", region="eu-west-1", endpoint="https://s3.eu-west-1.amazonaws.com", method="PUT",
         path=s3_path("my-bucket", "reports/2026 Q1/summary file.csv"),
         headers=[("Content-Type", "text/csv")], body="run,key\n2026,a b\n"),
    dict(id="s3-key-plus-star-tilde", what="'+' and '*' are encoded, '~' is not",
         service="s3", region="us-east-1", endpoint="https://s3.us-east-1.amazonaws.com", method="GET",
         path=s3_path("bucket", "a+b*c~d.txt")),
    dict(id="s3-key-unicode", what="a key of UTF-8 text, encoded byte by byte",
         service="s3", region="eu-central-1", endpoint="https://s3.eu-central-1.amazonaws.com", method="PUT",
         path=s3_path("bucket", "données/日本語 ✓.json"), headers=[("Content-Type", "application/json")],
         body='{"text": "héllo ✓"}'),
    dict(id="s3-key-reserved-characters", what="~()!=&;$,@' and a quote in a key",
         service="s3", region="us-west-2", endpoint="https://s3.us-west-2.amazonaws.com", method="GET",
         path=s3_path("bucket", "odd/~()!=&;$,@'\"name")),
    dict(id="s3-key-double-slash-and-dots", what="S3 keeps '//', '.' and '..' in keys: no normalization",
         service="s3", region="us-east-1", endpoint="https://s3.us-east-1.amazonaws.com", method="GET",
         path=s3_path("bucket", "a//b/../c/./d")),
    dict(id="s3-list-objects-v2", what="unsorted query; '/', ':' and '=' in values",
         service="s3", region="us-east-1", endpoint="https://s3.us-east-1.amazonaws.com", method="GET",
         path="/bucket", query=[("prefix", "out/run=2026-01-01T00:00:00Z/"), ("list-type", "2"),
                                ("delimiter", "/"), ("max-keys", "1000"), ("continuation-token", "1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=")]),
    dict(id="s3-list-raw-query", what="a query written unencoded in the URL (':' '/' '*' '+') is encoded for signing",
         service="s3", region="us-east-1", endpoint="https://s3.us-east-1.amazonaws.com", method="GET",
         path="/bucket", query=[("prefix", "a/b:c*d+e"), ("list-type", "2")], raw_query="prefix=a/b:c*d+e&list-type=2"),
    dict(id="s3-create-multipart-upload", what="a valueless parameter: ?uploads",
         service="s3", region="us-east-1", endpoint="https://s3.us-east-1.amazonaws.com", method="POST",
         path=s3_path("bucket", "big object.bin"), query=[("uploads", None)]),
    dict(id="s3-get-acl", what="a valueless parameter alone: ?acl",
         service="s3", region="ap-northeast-1", endpoint="https://bucket.s3.ap-northeast-1.amazonaws.com",
         method="GET", path="/", query=[("acl", None)]),
    dict(id="s3-upload-part", what="uploadId and partNumber, unsorted, with a body",
         service="s3", region="us-east-1", endpoint="https://s3.us-east-1.amazonaws.com", method="PUT",
         path=s3_path("bucket", "big object.bin"),
         query=[("uploadId", "VXBsb2FkIElEIGZvciA2aWWpbmcncyBteS1tb3ZpZS5tMnRzIHVwbG9hZA~-_.x"), ("partNumber", "2")],
         body="part two bytes"),
    dict(id="s3-delete-objects", what="POST ?delete with Content-MD5 and an XML body",
         service="s3", region="us-east-1", endpoint="https://s3.us-east-1.amazonaws.com", method="POST",
         path="/bucket", query=[("delete", None)],
         headers=[("Content-MD5", "1B2M2Y8AsgTpgAmY7PhCfg=="), ("Content-Type", "application/xml")],
         body="<Delete><Object><Key>a b</Key></Object></Delete>"),
    dict(id="s3-session-token", what="temporary credentials: X-Amz-Security-Token is signed",
         service="s3", region="us-east-1", endpoint="https://s3.us-east-1.amazonaws.com", method="GET",
         path=s3_path("bucket", "key.txt"), token=TOKEN),
    dict(id="s3-local-endpoint-port", what="a local endpoint: the Host header keeps a non-default port",
         service="s3", region="us-east-1", endpoint="http://127.0.0.1:5000", method="PUT",
         path=s3_path("sentiflow-test", "run=2026-01-01T00:00:00Z/0a1b.jsonl"), body='{"key": "a"}\n'),
    dict(id="s3-unsigned-payload", what="UNSIGNED-PAYLOAD in place of the body's hash",
         service="s3", region="us-east-1", endpoint="https://s3.us-east-1.amazonaws.com", method="PUT",
         path=s3_path("bucket", "stream.bin"), body="not hashed", unsigned=True),
    dict(id="s3-head-china", what="HEAD in a China region",
         service="s3", region="cn-north-1", endpoint="https://s3.cn-north-1.amazonaws.com.cn", method="HEAD",
         path=s3_path("bucket", "k"), time="2025-12-31T23:59:59Z"),
    dict(id="dynamodb-list-tables", what="a JSON POST with X-Amz-Target",
         service="dynamodb", region="us-east-1", endpoint="https://dynamodb.us-east-1.amazonaws.com",
         **json_post("DynamoDB_20120810.ListTables", "{}")),
    dict(id="dynamodb-scan-session-token", what="Scan with a session token, another region",
         service="dynamodb", region="eu-central-1", endpoint="https://dynamodb.eu-central-1.amazonaws.com",
         token=TOKEN, **json_post("DynamoDB_20120810.Scan",
                                  '{"TableName": "companies", "Segment": 0, "TotalSegments": 4, "Limit": 1000}')),
    dict(id="dynamodb-put-item-unicode", what="a UTF-8 body",
         service="dynamodb", region="us-west-2", endpoint="https://dynamodb.us-west-2.amazonaws.com",
         **json_post("DynamoDB_20120810.PutItem",
                     '{"TableName": "t", "Item": {"name": {"S": "Zoë ✓"}, "n": {"N": "12345678901234567890123456789012345678"}}}')),
    dict(id="sqs-json-send-message", what="SQS's JSON protocol",
         service="sqs", region="ap-southeast-2", endpoint="https://sqs.ap-southeast-2.amazonaws.com",
         **json_post("AmazonSQS.SendMessage",
                     '{"QueueUrl": "https://sqs.ap-southeast-2.amazonaws.com/123456789012/producer", "MessageBody": "{\\"v\\": 1}"}')),
    dict(id="sqs-query-form-post", what="SQS's query protocol: a form body",
         service="sqs", region="us-east-1", endpoint="https://sqs.us-east-1.amazonaws.com", method="POST", path="/",
         headers=[("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")],
         body="Action=ListQueues&QueueNamePrefix=prod&Version=2012-11-05"),
    dict(id="sqs-query-get", what="query protocol over GET: a space and unsorted names",
         service="sqs", region="us-east-1", endpoint="https://sqs.us-east-1.amazonaws.com", method="GET",
         path="/123456789012/producer",
         query=[("Version", "2012-11-05"), ("Action", "ReceiveMessage"), ("AttributeName.1", "All"),
                ("MessageAttributeName.1", "a b")]),
    dict(id="comprehend-batch-detect", what="Comprehend",
         service="comprehend", region="us-east-2", endpoint="https://comprehend.us-east-2.amazonaws.com",
         **json_post("Comprehend_20171127.BatchDetectSentiment",
                     '{"TextList": ["I love it", "I hate it"], "LanguageCode": "en"}', "application/x-amz-json-1.1")),
    dict(id="events-put-events", what="EventBridge: signing name 'events'",
         service="events", region="eu-west-1", endpoint="https://events.eu-west-1.amazonaws.com", token=TOKEN,
         **json_post("AWSEvents.PutEvents", '{"Entries": [{"Source": "sentiflow", "DetailType": "run", "Detail": "{}"}]}',
                     "application/x-amz-json-1.1")),
    dict(id="lambda-invoke-double-encoded", what="other services encode the path twice: ':' and ' ' in an ARN",
         service="lambda", region="us-east-1", endpoint="https://lambda.us-east-1.amazonaws.com", method="POST",
         path="/2015-03-31/functions/" + quote("arn:aws:lambda:us-east-1:123456789012:function:my fn", safe="~")
              + "/invocations",
         headers=[("Content-Type", "application/json")], body='{"Records": []}'),
    dict(id="execute-api-normalized-path", what="other services normalize '//', '.' and '..' before encoding",
         service="execute-api", region="us-east-1", endpoint="https://abc123.execute-api.us-east-1.amazonaws.com",
         method="GET", path="/prod//items/./a%20b/../c~d/"),
    dict(id="headers-trim-duplicates-unsigned", what="values trimmed, inner spaces collapsed, a repeated header "
         "joined with ',', mixed-case names, User-Agent not signed",
         service="dynamodb", region="us-east-1", endpoint="https://dynamodb.us-east-1.amazonaws.com", method="POST",
         path="/", headers=[("Content-Type", "application/x-amz-json-1.0"), ("X-Amz-Target", "DynamoDB_20120810.ListTables"),
                            ("X-Amz-Meta-Note", "   two   words  here  "), ("x-custom-list", "b"), ("X-Custom-List", "a"),
                            ("User-Agent", "sentiflow/0.1.0"), ("ZZ-Last", "z")], body="{}"),
    dict(id="query-sort-by-name-then-value", what="sorted by encoded name, then value: A < a < a-b, repeated names "
         "by value, an empty value",
         service="execute-api", region="us-east-1", endpoint="https://abc123.execute-api.us-east-1.amazonaws.com",
         method="GET", path="/prod/q", query=[("b", ""), ("a-b", "2"), ("a", "1"), ("A", "0"), ("key", "z"), ("key", "y"),
                                               ("ünï", "✓"), ("tilde~", "x~y")]),
]


def sign(vector):
    time = datetime.datetime.strptime(vector.get("time", TIME), "%Y-%m-%dT%H:%M:%SZ")
    token = vector.get("token")
    credentials = Credentials(ACCESS_KEY, SECRET_KEY, token)
    query = vector.get("query") or []
    url = vector["endpoint"] + vector["path"]
    if query:
        url += "?" + (vector.get("raw_query") or encode_query(query))
    body = vector.get("body", "")
    request = AWSRequest(method=vector["method"], url=vector["endpoint"] + vector["path"], data=body.encode("utf-8"),
                         params=[(name, "" if value is None else value) for name, value in query])
    for name, value in vector.get("headers", []):
        request.headers[name] = value  # HTTPHeaders appends: a repeated name stays repeated
    if vector.get("unsigned"):
        request.context["client_config"] = Config(s3={"payload_signing_enabled": False})
    signer_class = S3SigV4Auth if vector["service"] == "s3" else SigV4Auth
    signer = signer_class(credentials, vector["service"], vector["region"])
    # What add_auth itself signs: computed afterwards, the canonical request would take in the
    # Authorization header that add_auth has just added.
    seen = {}
    string_to_sign = signer.string_to_sign

    def record(request_, canonical_request):
        seen["canonical_request"] = canonical_request
        seen["string_to_sign"] = string_to_sign(request_, canonical_request)
        return seen["string_to_sign"]

    signer.string_to_sign = record
    with mock.patch("botocore.auth.get_current_datetime", return_value=time):
        signer.add_auth(request)
    added = [(name, request.headers[name]) for name in ("X-Amz-Date", "X-Amz-Security-Token", "X-Amz-Content-SHA256")
             if name in request.headers]
    out = {
        "id": vector["id"],
        "what": vector["what"],
        "service": vector["service"],
        "region": vector["region"],
        "time": time.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "method": vector["method"],
        "url": url,
        "headers": [list(h) for h in vector.get("headers", [])],
        "body": body,
        "credentials": {"access_key_id": ACCESS_KEY, "secret_access_key": SECRET_KEY, "session_token": token or ""},
        "expected": {
            "canonical_request": seen["canonical_request"],
            "string_to_sign": seen["string_to_sign"],
            "authorization": request.headers["Authorization"],
            "added_headers": [list(h) for h in added],
        },
    }
    if vector.get("unsigned"):
        out["payload_hash"] = "UNSIGNED-PAYLOAD"
    return out


def main():
    vectors = [sign(v) for v in VECTORS]
    document = {
        "generator": "tests/aws/make_sigv4_vectors.py",
        "botocore": botocore.__version__,
        "vectors": vectors,
    }
    json.dump(document, sys.stdout, indent=2, ensure_ascii=False)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
