"""Security defaults (#15 part 2, item 5): the data directory is private, and no configured
secret (API key, AWS secret, Rollbar token) reaches the server's log, whether a request
carries the right one, a wrong one, or none.
"""
from __future__ import annotations

import stat
import uuid

import boto3
import botocore.config
import botocore.exceptions
import pytest
import requests

HTTP_TIMEOUT_S = 15

API_KEY = "hny-key-" + uuid.uuid4().hex
AWS_SECRET = "aws-secret-" + uuid.uuid4().hex
ROLLBAR_POST = "rbpost" + uuid.uuid4().hex[:16]
ROLLBAR_READ = "rbread" + uuid.uuid4().hex[:16]


def test_a_new_data_directory_is_readable_by_its_owner_only(waggle_factory, tmp_path):
    data = tmp_path / "fresh" / "waggle-data"
    server = waggle_factory(data_dir=data).start()
    server.echo_ok()
    assert stat.S_IMODE(data.stat().st_mode) == 0o700
    server.terminate()


def test_an_existing_open_data_directory_is_kept_and_warned_about(waggle_factory, tmp_path):
    data = tmp_path / "shared"
    data.mkdir(mode=0o755)
    data.chmod(0o755)
    server = waggle_factory(data_dir=data).start()
    server.echo_ok()
    assert stat.S_IMODE(data.stat().st_mode) == 0o755
    assert "readable by other users" in server.stderr_tail(20000)
    server.terminate()


def test_secrets_never_reach_the_log(waggle_factory):
    server = waggle_factory(extra_args=[
        "--api-key", API_KEY,
        "--aws-credentials", f"AKIDWAGGLESEC:{AWS_SECRET}",
        "--rollbar-tokens", f"cruddur:{ROLLBAR_POST}:post_server_item,cruddur:{ROLLBAR_READ}:read",
    ]).start()
    url = server.http_url
    with requests.Session() as s:
        # Honeycomb: the right key, a wrong one, none.
        for key, want in [(API_KEY, 200), (API_KEY + "x", 401), (None, 401)]:
            headers = {"X-Honeycomb-Team": key} if key else {}
            r = s.post(f"{url}/1/events/sec", json={"k": 1}, headers=headers, timeout=HTTP_TIMEOUT_S)
            assert r.status_code == want, r.text
        r = s.post(f"{url}/1/events/sec", json={"k": 1}, timeout=HTTP_TIMEOUT_S,
                   headers={"Authorization": f"Bearer {API_KEY}"})
        assert r.status_code == 200, r.text
        # Rollbar: the post token, a read token where post is needed, a wrong one.
        item = {"data": {"environment": "test", "body": {"message": {"body": "sec"}}}}
        for token, ok in [(ROLLBAR_POST, True), (ROLLBAR_READ, False), (ROLLBAR_POST[:-1], False)]:
            r = s.post(f"{url}/api/1/item/", json=item, timeout=HTTP_TIMEOUT_S,
                       headers={"X-Rollbar-Access-Token": token})
            assert (r.status_code == 200) == ok, (token, r.status_code, r.text)
    # AWS: signed with the secret, and with a wrong one.
    def logs(secret: str):
        return boto3.client(
            "logs", endpoint_url=url, region_name="us-east-1",
            aws_access_key_id="AKIDWAGGLESEC", aws_secret_access_key=secret,
            config=botocore.config.Config(retries={"max_attempts": 1}),
        )
    logs(AWS_SECRET).create_log_group(logGroupName="sec")
    with pytest.raises(botocore.exceptions.ClientError):
        logs(AWS_SECRET + "x").describe_log_groups()
    server.terminate()
    log = server.stderr_tail(10_000_000)
    assert log, "the server wrote nothing to its log"
    for secret in [API_KEY, AWS_SECRET, ROLLBAR_POST, ROLLBAR_READ, ROLLBAR_POST[:-1]]:
        assert secret not in log, f"a secret reached the log: {secret[:8]}…"
