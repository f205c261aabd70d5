"""The sandbox's IAM and STS with the real AWS CLI and boto3: the tutorial's Step-03 as written,
each operation, ABAC by session tags, and AWS-shaped errors for bad input."""

import json


from sandbox import (TUTORIAL_TRUST, Sandbox, admin_trust, error_of, module_sandbox,
                     service_error_status)

ROLE = "EKS-PodIdentity-S3-ReadOnly-Role-101"
S3_READ_ONLY = "arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess"


sandbox = module_sandbox("iam")


def test_the_tutorials_step_03_as_written(sandbox, tmp_path):
    trust = tmp_path / "trust.json"
    trust.write_text(TUTORIAL_TRUST)
    created = sandbox.aws("iam", "create-role", "--role-name", ROLE,
                          "--assume-role-policy-document", f"file://{trust}")
    assert created.returncode == 0, created.stderr
    role = json.loads(created.stdout)["Role"]
    assert role["Arn"] == f"arn:aws:iam::{sandbox.account}:role/{ROLE}"
    assert role["RoleId"].startswith("AROA")
    # The CLI decodes the URL-encoded document IAM sends back.
    assert role["AssumeRolePolicyDocument"] == json.loads(TUTORIAL_TRUST)

    attached = sandbox.aws("iam", "attach-role-policy", "--role-name", ROLE,
                           "--policy-arn", S3_READ_ONLY)
    assert attached.returncode == 0, attached.stderr
    listed = json.loads(sandbox.aws("iam", "list-attached-role-policies",
                                    "--role-name", ROLE).stdout)
    assert listed["AttachedPolicies"] == [
        {"PolicyName": "AmazonS3ReadOnlyAccess", "PolicyArn": S3_READ_ONLY}]

    got = json.loads(sandbox.aws("iam", "get-role", "--role-name", ROLE).stdout)["Role"]
    assert got["RoleName"] == ROLE and got["MaxSessionDuration"] == 3600


def test_every_role_and_policy_operation_with_boto3(sandbox):
    iam = sandbox.iam()
    iam.create_role(RoleName="ops-role", AssumeRolePolicyDocument=TUTORIAL_TRUST,
                    Description="for the operations test", Tags=[{"Key": "team", "Value": "a"}])
    names = [r["RoleName"] for r in iam.get_paginator("list_roles").paginate().build_full_result()
             ["Roles"]]
    assert "ops-role" in names

    no_tags = {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"},
        "Action": "sts:AssumeRole"}]}
    iam.update_assume_role_policy(RoleName="ops-role", PolicyDocument=json.dumps(no_tags))
    document = iam.get_role(RoleName="ops-role")["Role"]["AssumeRolePolicyDocument"]
    assert document == no_tags

    inline = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"}]}
    iam.put_role_policy(RoleName="ops-role", PolicyName="read-b", PolicyDocument=json.dumps(inline))
    assert iam.list_role_policies(RoleName="ops-role")["PolicyNames"] == ["read-b"]
    got = iam.get_role_policy(RoleName="ops-role", PolicyName="read-b")
    assert got["PolicyDocument"] == inline

    policy = iam.create_policy(PolicyName="ops-policy", PolicyDocument=json.dumps(inline),
                               Description="customer managed")["Policy"]
    assert policy["Arn"] == f"arn:aws:iam::{sandbox.account}:policy/ops-policy"
    assert iam.get_policy(PolicyArn=policy["Arn"])["Policy"]["DefaultVersionId"] == "v1"
    version = iam.get_policy_version(PolicyArn=policy["Arn"], VersionId="v1")["PolicyVersion"]
    assert version["Document"] == inline and version["IsDefaultVersion"]
    iam.attach_role_policy(RoleName="ops-role", PolicyArn=policy["Arn"])
    iam.attach_role_policy(RoleName="ops-role", PolicyArn=S3_READ_ONLY)
    attached = iam.list_attached_role_policies(RoleName="ops-role")["AttachedPolicies"]
    assert [p["PolicyName"] for p in attached] == ["ops-policy", "AmazonS3ReadOnlyAccess"]

    conflict = error_of(lambda: iam.delete_role(RoleName="ops-role"))
    assert conflict["Code"] == "DeleteConflict"
    assert error_of(lambda: iam.delete_policy(PolicyArn=policy["Arn"]))["Code"] == \
        "DeleteConflict"
    for arn in (policy["Arn"], S3_READ_ONLY):
        iam.detach_role_policy(RoleName="ops-role", PolicyArn=arn)
    iam.delete_role_policy(RoleName="ops-role", PolicyName="read-b")
    iam.delete_role(RoleName="ops-role")
    missing = error_of(lambda: iam.get_role(RoleName="ops-role"))
    assert missing == {"Type": "Sender", "Code": "NoSuchEntity",
                       "Message": "The role with name ops-role cannot be found."}


def test_managed_policies_are_the_published_documents(sandbox):
    iam = sandbox.iam()
    for name in ["AmazonS3ReadOnlyAccess", "AmazonS3FullAccess", "AmazonEKSWorkerNodePolicy",
                 "AdministratorAccess"]:
        arn = f"arn:aws:iam::aws:policy/{name}"
        policy = iam.get_policy(PolicyArn=arn)["Policy"]
        version = iam.get_policy_version(PolicyArn=arn, VersionId=policy["DefaultVersionId"])
        assert version["PolicyVersion"]["Document"]["Version"] == "2012-10-17"
    admin = iam.get_policy_version(PolicyArn="arn:aws:iam::aws:policy/AdministratorAccess",
                                   VersionId="v1")["PolicyVersion"]["Document"]
    assert admin["Statement"] == [{"Effect": "Allow", "Action": "*", "Resource": "*"}]


def test_users_and_their_keys_are_authorized_by_their_policies(sandbox):
    iam = sandbox.iam()
    iam.create_user(UserName="dev")
    key = iam.create_access_key(UserName="dev")["AccessKey"]
    dev = {"aws_access_key_id": key["AccessKeyId"],
           "aws_secret_access_key": key["SecretAccessKey"]}
    who = sandbox.sts(**dev).get_caller_identity()
    assert who["Arn"] == f"arn:aws:iam::{sandbox.account}:user/dev"
    denied = error_of(lambda: sandbox.iam(**dev).list_roles())
    assert denied["Code"] == "AccessDenied"
    assert denied["Message"] == (
        f"User: arn:aws:iam::{sandbox.account}:user/dev is not authorized to perform: "
        f"iam:ListRoles on resource: arn:aws:iam::{sandbox.account}:role/ because no "
        "identity-based policy allows the iam:ListRoles action")
    iam.attach_user_policy(UserName="dev", PolicyArn="arn:aws:iam::aws:policy/IAMReadOnlyAccess")
    assert "Roles" in sandbox.iam(**dev).list_roles()


def test_abac_on_the_session_tag_of_the_namespace(sandbox):
    account = sandbox.account
    inline = json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Action": "iam:GetRole", "Resource": "*",
        "Condition": {"StringEquals": {"aws:PrincipalTag/kubernetes-namespace": "team-a"}}}]})
    arn = sandbox.role("abac-role", trust=admin_trust(account), inline=inline)
    team_a = sandbox.session(arn, tags={"kubernetes-namespace": "team-a"})
    team_b = sandbox.session(arn, name="other", tags={"kubernetes-namespace": "team-b"})
    assert sandbox.iam(**team_a).get_role(RoleName="abac-role")["Role"]["Arn"] == arn
    denied = error_of(lambda: sandbox.iam(**team_b).get_role(RoleName="abac-role"))
    assert denied["Message"] == (
        f"User: arn:aws:sts::{account}:assumed-role/abac-role/other is not authorized to "
        f"perform: iam:GetRole on resource: arn:aws:iam::{account}:role/abac-role because no "
        "identity-based policy allows the iam:GetRole action")


def test_tags_need_tag_session_and_chains_last_an_hour(sandbox):
    account = sandbox.account
    trust = ('{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":'
             f'"arn:aws:iam::{account}:root"}},"Action":"sts:AssumeRole"}}]}}')
    may_assume = ('{"Version":"2012-10-17","Statement":[{"Effect":"Allow",'
                  '"Action":"sts:AssumeRole","Resource":"*"}]}')
    arn = sandbox.role("untagged-role", trust=trust, inline=may_assume)
    error = error_of(lambda: sandbox.session(arn, tags={"team": "a"}))
    assert error["Code"] == "AccessDenied"
    assert error["Message"] == (
        f"User: arn:aws:iam::{account}:user/admin is not authorized to perform: sts:TagSession "
        f"on resource: {arn}")
    session = sandbox.session(arn)
    assert sandbox.sts(**session).get_caller_identity()["Arn"] == \
        f"arn:aws:sts::{account}:assumed-role/untagged-role/test-session"
    chained = error_of(lambda: sandbox.sts(**session).assume_role(
        RoleArn=arn, RoleSessionName="again", DurationSeconds=7200))
    assert chained["Code"] == "ValidationError"
    assert chained["Message"] == ("The requested DurationSeconds exceeds the 1 hour session "
                                  "limit for roles assumed by role chaining.")


def test_bad_documents_signatures_and_tokens_get_aws_errors(sandbox, tmp_path):
    iam = sandbox.iam()
    broken = error_of(lambda: iam.create_role(RoleName="broken",
                                              AssumeRolePolicyDocument='{"Version": '))
    assert broken["Code"] == "MalformedPolicyDocument"
    assert broken["Message"].startswith("Syntax errors in policy.")
    unknown_operator = json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Action": "s3:*", "Resource": "*",
        "Condition": {"StringEqualsTypo": {"aws:username": "x"}}}]})
    error = error_of(lambda: iam.create_policy(PolicyName="typo",
                                               PolicyDocument=unknown_operator))
    assert error["Code"] == "MalformedPolicyDocument" and "StringEqualsTypo" in error["Message"]

    wrong = {"aws_access_key_id": sandbox.exports["AWS_ACCESS_KEY_ID"],
             "aws_secret_access_key": "not-the-secret"}
    error = error_of(lambda: sandbox.sts(**wrong).get_caller_identity())
    assert error["Code"] == "SignatureDoesNotMatch"
    assert error["Message"].startswith("The request signature we calculated does not match")
    unknown = {"aws_access_key_id": "AKIAEXAMPLEUNKNOWN00", "aws_secret_access_key": "x"}
    error = error_of(lambda: sandbox.sts(**unknown).get_caller_identity())
    assert error == {"Type": "Sender", "Code": "InvalidClientTokenId",
                     "Message": "The security token included in the request is invalid."}

    arn = sandbox.role("token-role", trust=admin_trust(sandbox.account))
    session = sandbox.session(arn)
    session["aws_session_token"] = session["aws_session_token"][:-8] + "AAAAAAA="
    error = error_of(lambda: sandbox.sts(**session).get_caller_identity())
    assert error["Code"] == "InvalidClientTokenId"

    cli = sandbox.aws("iam", "get-role", "--role-name", "no-such-role")
    assert cli.returncode == service_error_status()
    assert ("An error occurred (NoSuchEntity) when calling the GetRole operation: The role "
            "with name no-such-role cannot be found.") in cli.stderr


def test_state_survives_a_restart(tmp_path):
    sandbox = Sandbox(tmp_path).start()
    try:
        sandbox.role("kept-role", policies=[S3_READ_ONLY])
        keys = sandbox.exports["AWS_ACCESS_KEY_ID"]
    finally:
        sandbox.stop()
    sandbox.start()
    try:
        assert sandbox.exports["AWS_ACCESS_KEY_ID"] == keys
        attached = sandbox.iam().list_attached_role_policies(RoleName="kept-role")
        assert attached["AttachedPolicies"][0]["PolicyArn"] == S3_READ_ONLY
    finally:
        sandbox.stop()


def test_each_iam_operation_with_the_aws_cli(sandbox, tmp_path):
    """Every IAM action the sandbox has, as the AWS CLI sends it."""
    account = sandbox.account
    trust = tmp_path / "trust.json"
    trust.write_text(TUTORIAL_TRUST)
    inline = tmp_path / "inline.json"
    inline.write_text(json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": "arn:aws:s3:::cli"}]}))
    policy_arn = f"arn:aws:iam::{account}:policy/cli-policy"

    def ok(*args):
        result = sandbox.aws("iam", *args, "--output", "json")
        assert result.returncode == 0, f"{args}: {result.stderr}"
        return json.loads(result.stdout) if result.stdout.strip() else {}

    ok("create-role", "--role-name", "cli-role", "--assume-role-policy-document",
       f"file://{trust}", "--description", "made by the CLI", "--tags", "Key=team,Value=a")
    assert ok("get-role", "--role-name", "cli-role")["Role"]["Description"] == "made by the CLI"
    assert "cli-role" in [r["RoleName"] for r in ok("list-roles")["Roles"]]
    ok("update-assume-role-policy", "--role-name", "cli-role", "--policy-document",
       f"file://{trust}")
    ok("attach-role-policy", "--role-name", "cli-role", "--policy-arn", S3_READ_ONLY)
    assert ok("list-attached-role-policies", "--role-name", "cli-role")["AttachedPolicies"]
    ok("put-role-policy", "--role-name", "cli-role", "--policy-name", "cli-inline",
       "--policy-document", f"file://{inline}")
    assert ok("get-role-policy", "--role-name", "cli-role", "--policy-name",
              "cli-inline")["PolicyDocument"]["Statement"][0]["Action"] == "s3:ListBucket"
    assert ok("list-role-policies", "--role-name", "cli-role")["PolicyNames"] == ["cli-inline"]
    ok("create-policy", "--policy-name", "cli-policy", "--policy-document", f"file://{inline}")
    assert ok("get-policy", "--policy-arn", policy_arn)["Policy"]["PolicyName"] == "cli-policy"
    version = ok("get-policy-version", "--policy-arn", policy_arn, "--version-id", "v1")
    assert version["PolicyVersion"]["IsDefaultVersion"] is True
    ok("create-user", "--user-name", "cli-user")
    key = ok("create-access-key", "--user-name", "cli-user")["AccessKey"]
    assert key["AccessKeyId"].startswith("AKIA") and len(key["SecretAccessKey"]) == 40

    ok("delete-role-policy", "--role-name", "cli-role", "--policy-name", "cli-inline")
    ok("detach-role-policy", "--role-name", "cli-role", "--policy-arn", S3_READ_ONLY)
    ok("delete-role", "--role-name", "cli-role")
    gone = sandbox.aws("iam", "get-role", "--role-name", "cli-role")
    assert "(NoSuchEntity)" in gone.stderr
    exists = sandbox.aws("iam", "create-user", "--user-name", "cli-user")
    assert ("An error occurred (EntityAlreadyExists) when calling the CreateUser operation: "
            "User with name cli-user already exists.") in exists.stderr
