"""moto_server as the tests run it: moto's own server, with one change to how a new account is set up.

moto builds each account's IAM lazily, once per partition (aws, aws-cn, aws-us-gov, aws-iso,
aws-iso-b, aws-eusc), and with MOTO_IAM_LOAD_MANAGED_POLICIES=true parses its 11 MB catalogue of
AWS-managed policies and creates all of them in every one: about 1 s of the server's one core per
new account. The tests use one account per test and only the `aws` partition, so here the
catalogue is parsed once per server and the AWS-managed policies are created in the `aws`
partition only. What a test can observe in the `aws` partition is unchanged (every AWS-managed
policy, with its own attachment counts per account).

Run with the venv's python: `python tests/moto/server.py -H 127.0.0.1 -p PORT` (moto_server's
arguments).
"""

import functools
import json
import sys

from moto import server
from moto.iam import models
from moto.settings import load_iam_aws_managed_policies


@functools.cache
def _catalogue():
    return json.loads(models.aws_managed_policies_data)


def _init_aws_policies(self):
    if not load_iam_aws_managed_policies() or self.region_name != "aws":
        return []
    return [
        models.AWSManagedPolicy.from_data(name, self.account_id, self.region_name, data)
        for name, data in _catalogue().items()
    ]


models.IAMBackend._init_aws_policies = _init_aws_policies

if __name__ == "__main__":
    server.main(sys.argv[1:])
