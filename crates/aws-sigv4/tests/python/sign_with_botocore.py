"""Signs each request read from stdin (a JSON list) with botocore's SigV4Auth
and prints, per request, the canonical request and the headers botocore set.
Used by tests/botocore_interop.rs to compare the Rust signer with botocore's."""

import datetime
import json
import sys

import botocore.auth
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials


class RecordingSigV4Auth(SigV4Auth):
    """SigV4Auth that keeps the canonical request it signed (recomputing it
    afterwards would include the Authorization header it added)."""

    recorded = None

    def canonical_request(self, request):
        self.recorded = super().canonical_request(request)
        return self.recorded


def sign(case):
    fixed = datetime.datetime.strptime(case["amz_date"], "%Y%m%dT%H%M%SZ")
    # botocore reads the clock through this function; pin it to the case's time.
    botocore.auth.get_current_datetime = lambda *args, **kwargs: fixed
    request = AWSRequest(
        method=case["method"],
        url=case["url"],
        headers=dict(case["headers"]),
        data=case["body"].encode("utf-8"),
        params=[tuple(pair) for pair in case["query"]],
    )
    credentials = Credentials(case["access_key_id"], case["secret_access_key"], case.get("session_token"))
    signer = RecordingSigV4Auth(credentials, case["service"], case["region"])
    signer.add_auth(request)
    return {
        "canonical_request": signer.recorded,
        "authorization": request.headers["Authorization"],
        "x_amz_date": request.headers["X-Amz-Date"],
        "x_amz_security_token": request.headers.get("X-Amz-Security-Token"),
    }


if __name__ == "__main__":
    print(json.dumps([sign(case) for case in json.load(sys.stdin)]))
