"""The embedded AWS in a process of its own, for the authorizer benchmark: what the authorizer's process spends
on a call to Verified Permissions (boto3 signing, HTTP, parsing) is then measured without the endpoint's own work
(cedarpy, moto), which a real AVP does elsewhere too.

``python -m bench.avp_endpoint``: starts the embedded AWS (moto and the local Verified Permissions endpoint,
``migrate/embedded``), creates the test world (a user pool, a policy store with its identity source and
policies), prints one line ``AVP-ENDPOINT <json>`` (the SDK environment, the JWKS URL template, the policy store,
a token and the authorizer configuration) and serves until its standard input is closed.
"""

from __future__ import annotations

import json
import sys

from migrate.embedded import EmbeddedAws


def main() -> None:
    from tests.authorizer_helpers import config_for, hosted_ui_access_token, make_world, s

    with EmbeddedAws(port=0) as aws:
        aws.apply_environment()
        world = make_world(aws)
        token = hosted_ui_access_token(aws, world, "alice", [s("avp.read")])
        print("AVP-ENDPOINT " + json.dumps({
            "environment": aws.environment(),
            "jwks_url_template": f"{aws.moto_url}/{{pool_id}}/.well-known/jwks.json",
            "store_id": world.store_id, "pool_id": world.pool_id, "token": token,
            "config": config_for(world).to_json()}), flush=True)
        sys.stdin.read()  # until the benchmark closes it


if __name__ == "__main__":
    main()
