"""Credential access, counted in bursts: Windows passwords, Secrets Manager secrets and SecureString parameters read
in quick succession, and calls refused one after another (enumeration with stolen credentials).

Each call is one occurrence, low on its own; the engine counts them in the state store per caller and window and
raises the score once the threshold is met. The reads are read-only events: EventBridge delivers them only to a
rule in state ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS (their pattern is generated apart, marked readOnly)."""

from __future__ import annotations

from riposte.sources.cloudtrail.detections.base import (
    EC2,
    HIGH,
    MEDIUM,
    SECRETSMANAGER,
    SSM,
    Burst,
    Context,
    Hit,
    Outcome,
    affected,
    any_call,
    calls,
    detection,
    facts,
)
from riposte.sources.cloudtrail.record import Record, as_list, flag, text

# The CIS 4.1 filter for refused calls: errorCode "AccessDenied*" or "*UnauthorizedOperation".
DENIED = {"errorCode": [{"prefix": "AccessDenied"}, {"suffix": "UnauthorizedOperation"}]}


def caller(r: Record) -> str | None:
    """Bursts count per acting session (an assumed-role session, a user), across addresses."""
    return r.session


@detection(
    id="ec2_password_data_burst",
    title="Burst of Windows password retrievals",
    severity=MEDIUM,
    listens=(calls(EC2, "GetPasswordData", read_only=True),),
    outcome=Outcome.ANY,
    burst=Burst(caller, window_seconds=600, threshold=5, counted="GetPasswordData calls", per="caller session"),
    rationale=(
        "Retrieving the encrypted administrator password of many instances in a few minutes is credential "
        "harvesting; high when the calls are being refused (someone trying their luck)."
    ),
    references=(
        "MITRE ATT&CK T1552",
        "Stratus Red Team aws.credential-access.ec2-get-password-data",
        "Panther: AWS.EC2 many password read attempts",
    ),
    playbook=(
        "Identify the caller; rotate the administrator passwords of the instances it succeeded on",
        "Contain the caller",
    ),
    remediation="Contain the caller; rotate the local administrator passwords it may have read.",
    benign="An administrator retrieving one instance's password now and then stays below the threshold.",
)
def ec2_password_data_burst(r: Record, ctx: Context) -> Hit | None:
    if not (r.succeeded or r.denied):
        return None
    instance = text(r.param("instanceId"))
    return Hit(
        f"password data of {instance} {'refused' if r.denied else 'retrieved'}",
        severity=HIGH if r.denied else MEDIUM,
        parties=affected("instance", instance),
    )


@detection(
    id="secrets_value_burst",
    title="Burst of secret retrievals",
    severity=HIGH,
    listens=(calls(SECRETSMANAGER, "GetSecretValue", "BatchGetSecretValue", read_only=True),),
    burst=Burst(caller, window_seconds=600, threshold=10, counted="secret retrievals", per="caller session"),
    rationale=(
        "Ten or more secret retrievals by one caller within ten minutes looks like dumping the store (what Stratus "
        "and real intrusions do after enumerating it)."
    ),
    references=(
        "MITRE ATT&CK T1555.006",
        "Stratus Red Team aws.credential-access.secretsmanager-retrieve-secrets",
        "Stratus Red Team aws.credential-access.secretsmanager-batch-retrieve-secrets",
        "Sigma: AWS Secrets Manager Mass Secret Retrieval",
    ),
    playbook=(
        "Identify the caller and the secrets it read; rotate them",
        "Contain the caller",
    ),
    remediation="Rotate the secrets read; contain the caller.",
    benign="Workloads caching their few secrets stay below the threshold.",
)
def secrets_value_burst(r: Record, ctx: Context) -> Hit | None:
    secrets = [text(s) for s in [r.param("secretId"), *as_list(r.param("secretIdList"))] if s]
    return Hit(f"secret(s) read: {', '.join(secrets) or '(not logged)'}", facts=facts(("Secrets", secrets[:10])))


@detection(
    id="ssm_securestring_burst",
    title="Burst of decrypted parameter reads",
    severity=MEDIUM,
    listens=(calls(SSM, "GetParameter", "GetParameters", "GetParametersByPath", read_only=True),),
    burst=Burst(caller, window_seconds=600, threshold=10, counted="decrypting parameter reads", per="caller session"),
    rationale=(
        "Ten or more decrypting reads of SecureString parameters by one caller within ten minutes is harvesting "
        "the configuration's secrets; reads without decryption do not count."
    ),
    references=(
        "MITRE ATT&CK T1555.006",
        "Stratus Red Team aws.credential-access.ssm-retrieve-securestring-parameters",
    ),
    playbook=(
        "Identify the caller and the parameters it decrypted; rotate them",
        "Contain the caller",
    ),
    remediation="Rotate the parameters read; contain the caller.",
    benign="An application reading its few parameters at start-up stays below the threshold.",
)
def ssm_securestring_burst(r: Record, ctx: Context) -> Hit | None:
    if flag(r.param("withDecryption")) is not True:
        return None
    names = [text(n) for n in [r.param("name"), r.param("path"), *as_list(r.param("names"))] if n]
    return Hit(f"parameter(s) decrypted: {', '.join(names[:10])}", facts=facts(("Parameters", names[:10])))


@detection(
    id="unauthorized_api_burst",
    title="Burst of refused API calls",
    severity=MEDIUM,
    listens=(any_call(DENIED),),
    outcome=Outcome.DENIED,
    burst=Burst(caller, window_seconds=300, threshold=10, counted="refused calls", per="caller session"),
    rationale=(
        "Ten or more refused calls by one caller within five minutes is someone mapping what stolen credentials "
        "can do; high for a long-term access key used from outside the corporate networks."
    ),
    references=(
        "CIS AWS Foundations v1.2 3.1 / v1.4 4.1 (Security Hub CloudWatch.2)",
        "MITRE ATT&CK T1580",
        "MITRE ATT&CK T1087.004",
        "Panther: AWS.IAM.UserReconAccessDenied",
    ),
    playbook=(
        "Identify the credentials; if not a misconfigured workload, disable or rotate them",
        "Review the same caller's successful calls",
    ),
    remediation="Disable the access key (long-term) or revoke the role sessions.",
    benign="A few refusals from a console user exploring stay below the threshold.",
)
def unauthorized_api_burst(r: Record, ctx: Context) -> Hit | None:
    outside = not ctx.corporate(r.source_ip_address)
    return Hit(
        f"{r.event_source.split('.')[0]}:{r.event_name} refused ({r.error_code})",
        severity=HIGH if r.long_term_key and outside else MEDIUM,
    )
