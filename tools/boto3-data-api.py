"""boto3 against the local Data API and S3, as a Python user would point it there with endpoint_url.

usage: python tools/boto3-data-api.py DATA_API_URL S3_URL
Exits non-zero on the first operation that does not behave as it does against AWS.
"""
import sys
import time
import urllib.request

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

# The Data API's limits and shapes: DescribeStatement of <id>:N, ListStatements of the caller's
# own statements, SQL over 100 KB refused, an unknown secret refused, the server-side fault.
second = rsd.describe_statement(Id=f"{batch['Id']}:2")
check(second["QueryString"] == "INSERT INTO boto VALUES (1), (2)" and second["ResultRows"] == 2,
      f"describe <id>:2 {second}")
check(as_role.list_statements(StatementName="boto-")["Statements"] == [],
      "list_statements shows another identity's statements")
try:
    rsd.execute_statement(Sql="SELECT '" + "x" * 102400 + "'", **target)
    check(False, "SQL over 100 KB was accepted")
except ClientError as err:
    check(err.response["Error"]["Code"] == "ValidationException", f"100 KB: {err}")
try:
    as_role.execute_statement(Sql="SELECT 1", SecretArn="arn:aws:secretsmanager:us-west-2:1:secret:nope",
                              **workgroup)
    check(False, "an unknown secret signed in")
except ClientError as err:
    check(err.response["Error"]["Code"] == "ValidationException", f"unknown secret: {err}")
fault = urllib.request.Request(f"{data_api_url}/_local/faults", method="POST",
                               data=b'{"kind": "server-error", "operation": "ExecuteStatement", "times": 10}',
                               headers={"Content-Type": "application/json"})
urllib.request.urlopen(fault, timeout=10)
try:
    rsd.execute_statement(Sql="SELECT 1", **target)
    check(False, "the server-error fault did not fire")
except ClientError as err:
    check(err.response["Error"]["Code"] == "ExecuteStatementException"
          and err.response["ResponseMetadata"]["HTTPStatusCode"] == 500, f"server fault: {err}")
urllib.request.urlopen(urllib.request.Request(f"{data_api_url}/_local/faults", method="DELETE"), timeout=10)
# SYS_LOAD_ERROR_DETAIL has Redshift's columns; a workgroup has no STL views, a cluster has.
columns = wait(rsd.execute_statement(
    Sql="SELECT column_name FROM information_schema.columns WHERE table_name = 'sys_load_error_detail' "
        "ORDER BY ordinal_position", **target)["Id"])
names = [r[0]["stringValue"] for r in rsd.get_statement_result(Id=columns["Id"])["Records"]]
check(names[:8] == ["user_id", "query_id", "transaction_id", "session_id", "database_name", "table_id",
                    "start_time", "file_name"] and len(names) == 15, f"sys_load_error_detail {names}")
stl = wait_as(as_role, as_role.execute_statement(Sql="SELECT COUNT(*) FROM stl_load_errors", **workgroup)["Id"])
check(stl["Status"] == "FAILED" and "does not exist" in stl["Error"], f"STL on a workgroup: {stl}")

try:
    rsd.describe_statement(Id="00000000-0000-0000-0000-000000000000")
    check(False, "describe of an unknown id succeeded")
except ClientError as err:
    check(err.response["Error"]["Code"] == "ResourceNotFoundException", f"unknown id: {err}")

buckets = [b["Name"] for b in s3.list_buckets()["Buckets"]]
check("udacity-dend" in buckets, f"S3 buckets {buckets}")
keys = [o["Key"] for o in s3.list_objects_v2(Bucket="udacity-dend", Prefix="log_data/")["Contents"]]
check(keys and all(k.startswith("log_data/") for k in keys), f"S3 keys {keys}")

# The cluster's own API (awsQuery, XML) on the same port: DescribeClusters, PauseCluster,
# ResumeCluster and their errors, as botocore parses them (boto3-check.sh serves cluster "local").
redshift = boto3.client("redshift", endpoint_url=data_api_url, region_name="us-west-2",
                        aws_access_key_id="local", aws_secret_access_key="local")
cluster = redshift.describe_clusters(ClusterIdentifier="local")["Clusters"][0]
check(cluster["ClusterStatus"] == "available" and cluster["NumberOfNodes"] == 2
      and cluster["IamRoles"][0]["ApplyStatus"] == "in-sync", f"DescribeClusters {cluster}")
try:
    redshift.describe_clusters(ClusterIdentifier="nope")
    check(False, "DescribeClusters of an unknown cluster succeeded")
except redshift.exceptions.ClusterNotFoundFault as err:
    check(err.response["ResponseMetadata"]["HTTPStatusCode"] == 404, f"ClusterNotFound: {err}")
check(redshift.pause_cluster(ClusterIdentifier="local")["Cluster"]["ClusterStatus"] == "pausing",
      "PauseCluster")
try:
    redshift.resume_cluster(ClusterIdentifier="local")
    check(False, "ResumeCluster of a pausing cluster succeeded")
except redshift.exceptions.InvalidClusterStateFault:
    check(True, "")
for _ in range(100):
    if redshift.describe_clusters(ClusterIdentifier="local")["Clusters"][0]["ClusterStatus"] == "paused":
        break
    time.sleep(0.1)
try:
    rsd.execute_statement(Sql="SELECT 1", **target)
    check(False, "a statement on a paused cluster was accepted")
except ClientError as err:
    check(err.response["Error"]["Code"] == "ValidationException", f"paused: {err}")
check(redshift.resume_cluster(ClusterIdentifier="local")["Cluster"]["ClusterStatus"] == "resuming",
      "ResumeCluster")

print(f"boto3: {checks} passed, 0 failed")
