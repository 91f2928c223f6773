"""boto3 against the local Data API and S3, as a Python user would point it there with endpoint_url.

usage: python tools/boto3-data-api.py DATA_API_URL S3_URL
Exits non-zero on the first operation that does not behave as it does against AWS.
"""
import sys
import time

import boto3
from botocore.exceptions import ClientError

data_api_url, s3_url = sys.argv[1], sys.argv[2]
rsd = boto3.client("redshift-data", endpoint_url=data_api_url, region_name="us-west-2",
                   aws_access_key_id="local", aws_secret_access_key="local")
# The buckets are in the stand-in's region: a client signing for another is redirected, as by S3.
s3 = boto3.client("s3", endpoint_url=s3_url, region_name="us-west-2",
                  aws_access_key_id="anything", aws_secret_access_key="local")
target = {"ClusterIdentifier": "local", "Database": "dev", "DbUser": "etl"}
checks = 0


def check(condition, what):
    global checks
    if not condition:
        sys.exit(f"boto3: {what}")
    checks += 1


def wait(statement_id):
    return wait_as(rsd, statement_id)


def wait_as(client, statement_id):
    for _ in range(600):
        described = client.describe_statement(Id=statement_id)
        if described["Status"] in ("FINISHED", "FAILED", "ABORTED"):
            return described
        time.sleep(0.05)
    sys.exit(f"boto3: statement {statement_id} did not finish")


statement = rsd.execute_statement(Sql="SELECT :n::int * 2 AS doubled, 'é' AS text",
                                  Parameters=[{"name": "n", "value": "21"}], **target)
described = wait(statement["Id"])
check(described["Status"] == "FINISHED", f"execute_statement ended {described}")
result = rsd.get_statement_result(Id=statement["Id"])
check(result["Records"] == [[{"longValue": 42}, {"stringValue": "é"}]], f"records {result['Records']}")
check([c["name"] for c in result["ColumnMetadata"]] == ["doubled", "text"], "column metadata")

batch = rsd.batch_execute_statement(Sqls=["CREATE TABLE boto (a INT)", "INSERT INTO boto VALUES (1), (2)"],
                                    StatementName="boto-batch", **target)
described = wait(batch["Id"])
check([s["ResultRows"] for s in described["SubStatements"]] == [-1, 2], f"sub-statements {described}")
listed = rsd.list_statements(StatementName="boto-")
check([s["Id"] for s in listed["Statements"]] == [batch["Id"]], f"list_statements {listed}")

# Redshift's rules: an IAM role (access key role:NAME) signs in as its own database user IAMR:NAME,
# which may not use a table another user owns; SQL Redshift does not run fails naming the construct.
as_role = boto3.client("redshift-data", endpoint_url=data_api_url, region_name="us-west-2",
                       aws_access_key_id="role:Boto", aws_secret_access_key="local")
workgroup = {"WorkgroupName": "local", "Database": "dev"}
who = as_role.execute_statement(Sql="SELECT CURRENT_USER", **workgroup)
check(wait_as(as_role, who["Id"])["Status"] == "FINISHED", "SELECT CURRENT_USER as a role")
check(as_role.get_statement_result(Id=who["Id"])["Records"] == [[{"stringValue": "IAMR:Boto"}]],
      "an IAM role signs in as IAMR:<role>")
refused = wait_as(as_role, as_role.execute_statement(Sql="SELECT COUNT(*) FROM boto", **workgroup)["Id"])
check(refused["Status"] == "FAILED" and "permission denied" in refused["Error"], f"another user's table: {refused}")
upsert = wait(rsd.execute_statement(Sql="INSERT INTO boto VALUES (3) ON CONFLICT DO NOTHING", **target)["Id"])
check(upsert["Status"] == "FAILED" and "ON CONFLICT" in upsert["Error"], f"ON CONFLICT: {upsert}")

try:
    rsd.describe_statement(Id="00000000-0000-0000-0000-000000000000")
    check(False, "describe of an unknown id succeeded")
except ClientError as err:
    check(err.response["Error"]["Code"] == "ResourceNotFoundException", f"unknown id: {err}")

buckets = [b["Name"] for b in s3.list_buckets()["Buckets"]]
check("udacity-dend" in buckets, f"S3 buckets {buckets}")
keys = [o["Key"] for o in s3.list_objects_v2(Bucket="udacity-dend", Prefix="log_data/")["Contents"]]
check(keys and all(k.startswith("log_data/") for k in keys), f"S3 keys {keys}")

print(f"boto3: {checks} passed, 0 failed")
