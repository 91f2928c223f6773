"""The Python + boto3 peer of the Rust functions, for the cold-start benchmark: the same Data API
call (DescribeStatement of the statement a step polls), behind a minimal Lambda Runtime API
client, as a Python function's handler with its client made at init."""

import json
import os
import urllib.request

import boto3

API = f"http://{os.environ['AWS_LAMBDA_RUNTIME_API']}/2018-06-01/runtime/invocation"
CLIENT = boto3.client("redshift-data")


def handler(event):
    described = CLIENT.describe_statement(Id=event["statement_id"])
    return {"statement_id": described["Id"], "status": described["Status"],
            "done": described["Status"] == "FINISHED"}


def main():
    while True:
        with urllib.request.urlopen(f"{API}/next") as answer:
            request_id = answer.headers["Lambda-Runtime-Aws-Request-Id"]
            event = json.loads(answer.read())
        body = json.dumps(handler(event)).encode()
        urllib.request.urlopen(urllib.request.Request(
            f"{API}/{request_id}/response", data=body, method="POST")).read()


if __name__ == "__main__":
    main()
