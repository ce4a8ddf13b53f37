#!/usr/bin/env python3
"""Send one image to the detection API and print what it found.

Python 3 standard library only. Usage:

    python3 examples/detect.py URL IMAGE [--min-score 0.6] [--max-results 10] [--api-key KEY | --sigv4]

URL is the stack's ``ApiUrl`` output (``https://<api-id>.execute-api.<region>.amazonaws.com/v1/``) or, for
``npm start -- --serve``, ``http://127.0.0.1:<port>/``. The image's bytes are the request body, sent as
``application/octet-stream``: the API decides the format (JPEG, PNG, WebP) from the bytes.

Authentication, as the stack is deployed:

- ``apiAuth=apiKey``: ``--api-key KEY`` (or the ``API_KEY`` environment variable) is sent as ``x-api-key``.
- ``apiAuth=iam`` (the default): ``--sigv4`` signs the request with your AWS credentials and region. This needs
  botocore (``pip install botocore``), the one part that is not in the standard library.
- local mode has no authentication: pass neither.

Prints one line per detection (class, score, box in pixels of the image sent) and exits 0; on an error answer it
prints the API's code, message and request id to stderr and exits 1.
"""

import argparse
import json
import os
import sys
import urllib.error
import urllib.parse
import urllib.request
from typing import Any


def detections_url(base_url: str, min_score: float | None, max_results: int | None) -> str:
    """The ``POST /detections`` URL under ``base_url`` (with or without its trailing slash), with its query."""
    query: dict[str, str] = {}
    if min_score is not None:
        query["minScore"] = str(min_score)
    if max_results is not None:
        query["maxResults"] = str(max_results)
    url = base_url.rstrip("/") + "/detections"
    return url + ("?" + urllib.parse.urlencode(query) if query else "")


def sigv4_headers(url: str, body: bytes, headers: dict[str, str]) -> dict[str, str]:
    """``headers`` plus the SigV4 signature for ``execute-api``, from botocore's default credentials and region."""
    try:
        import botocore.session
        from botocore.auth import SigV4Auth
        from botocore.awsrequest import AWSRequest
    except ImportError:
        sys.exit("--sigv4 needs botocore: pip install botocore (or deploy with apiAuth=apiKey and use --api-key)")
    session = botocore.session.get_session()
    credentials = session.get_credentials()
    region = session.get_config_variable("region")
    if credentials is None or not region:
        sys.exit("--sigv4 needs AWS credentials and a region: run `aws configure` or set AWS_PROFILE and AWS_REGION")
    request = AWSRequest(method="POST", url=url, data=body, headers=headers)
    SigV4Auth(credentials, "execute-api", region).add_auth(request)
    return dict(request.headers.items())


def describe_error(status: int, body: bytes) -> str:
    """One line for an error answer: the API's ``{"error": {"code", "message"}, "requestId"}``, or what came."""
    try:
        answer: Any = json.loads(body)
    except ValueError:
        answer = None
    if isinstance(answer, dict) and isinstance(answer.get("error"), dict):
        error = answer["error"]
        return f"{status} {error.get('code')}: {error.get('message')} (request id {answer.get('requestId')})"
    if isinstance(answer, dict) and "message" in answer:
        # API Gateway's own answers (throttling, authentication, a request too large to reach the proxy).
        return f"{status}: {answer['message']}"
    return f"{status}: {body[:200].decode('utf-8', 'replace')}"


def format_detection(detection: dict[str, Any]) -> str:
    """``logo 0.93 left=412.5 top=80.1 width=120.4 height=64.0`` for one detection of the answer."""
    box = detection["box"]
    return (
        f"{detection['label']} {detection['score']:.2f} "
        f"left={box['left']} top={box['top']} width={box['width']} height={box['height']}"
    )


def main(argv: list[str] | None = None) -> int:
    """Parses the arguments, sends the image, prints the detections; returns the exit status."""
    parser = argparse.ArgumentParser(description="Send one image to the detection API and print the boxes.")
    parser.add_argument("url", help="the API's base URL (the ApiUrl output, ending in /v1/)")
    parser.add_argument("image", help="a JPEG, PNG or WebP file, at most 4 MiB")
    parser.add_argument("--min-score", type=float, help="lowest score to return, 0 to 1")
    parser.add_argument("--max-results", type=int, help="most detections to return, 1 to 100")
    auth = parser.add_mutually_exclusive_group()
    auth.add_argument("--api-key", default=os.environ.get("API_KEY"), help="API key (apiAuth=apiKey); or API_KEY")
    auth.add_argument("--sigv4", action="store_true", help="sign with your AWS credentials (apiAuth=iam)")
    args = parser.parse_args(argv)

    if urllib.parse.urlsplit(args.url).scheme not in ("http", "https"):
        parser.error(f"URL must start with https:// (or http:// for local mode), got {args.url}")
    with open(args.image, "rb") as file:
        body = file.read()
    url = detections_url(args.url, args.min_score, args.max_results)
    headers = {"Content-Type": "application/octet-stream"}
    if args.api_key:
        headers["x-api-key"] = args.api_key
    if args.sigv4:
        headers = sigv4_headers(url, body, headers)

    request = urllib.request.Request(url, data=body, headers=headers, method="POST")  # noqa: S310 (the scheme is checked above)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 (the scheme is checked above)
            answer = json.loads(response.read())
    except urllib.error.HTTPError as error:
        print(describe_error(error.code, error.read()), file=sys.stderr)
        return 1

    print(f"model {answer['model']['version']}, image {answer['image']['width']}x{answer['image']['height']}, "
          f"{len(answer['detections'])} detection(s)")
    for detection in answer["detections"]:
        print(format_detection(detection))
    return 0


if __name__ == "__main__":
    sys.exit(main())
