"""Regions, on redshift-local's strict S3: a bucket lives in one region, and a request signed for
another is answered 301 PermanentRedirect, which the SDKs do not follow; COPY reads everything
(data, manifests, JSONPaths file) in its REGION. The template deploys the stack in `DataRegion`
(its rule `DataInTheStacksRegion`), so the functions, the manifest bucket and the warehouse are
where the data is."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import sparkify_local as local  # noqa: E402
from helpers import SCHEDULED, succeeded  # noqa: E402

ELSEWHERE = "eu-west-1"


def test_a_stack_deployed_in_the_data_region_loads_there(sample, tmp_path):
    # Everything in eu-west-1: the warehouse, both buckets, the functions and COPY's REGION.
    with local.LocalPipeline(
        sample, tmp_path / "logs", stand_in_args=["--region", ELSEWHERE],
        function_env={"AWS_REGION": ELSEWHERE, "DATA_REGION": ELSEWHERE},
    ) as pipeline:
        counts = succeeded(pipeline.execute(SCHEDULED))
        assert counts["songplays"] > 0


def test_a_data_bucket_in_another_region_than_the_stack_fails_as_the_template_refuses_it(sample, tmp_path):
    # The data bucket in eu-west-1, the stack (functions, manifest bucket, warehouse) in
    # us-west-2: the deploy the template's rule refuses. copy-staging lists the data in its region,
    # and the manifests it writes to the stack's bucket are refused with PermanentRedirect.
    with local.LocalPipeline(
        sample, tmp_path / "logs", stand_in_args=["--bucket-region", f"{sample.name}={ELSEWHERE}"],
        function_env={"DATA_REGION": ELSEWHERE},
    ) as pipeline:
        run = pipeline.execute(SCHEDULED)
        assert run.status == "FAILED"
        assert run.error == "S3Rejected", (run.error, run.cause)
        assert "PermanentRedirect" in run.cause
        assert pipeline.query("SELECT COUNT(*) FROM songplays")[0][0] == 0


def test_copy_without_the_data_region_fails_with_redshifts_s3serviceexception(sample, tmp_path):
    # DATA_REGION left at the warehouse's region while the bucket is elsewhere: copy-staging's
    # listing is redirected before any COPY runs.
    with local.LocalPipeline(
        sample, tmp_path / "logs", stand_in_args=["--bucket-region", f"{sample.name}={ELSEWHERE}"],
    ) as pipeline:
        run = pipeline.execute(SCHEDULED)
        assert run.status == "FAILED"
        assert run.error == "S3Rejected", (run.error, run.cause)
        assert "PermanentRedirect" in run.cause
