"""Names and settings the stack's constructs share (the cookbook keeps them in one constants module)."""

from __future__ import annotations

from pathlib import Path

from aws_cdk import Duration

# The runtime package folder is the Lambda code asset: lambdas/riposte, importable as `riposte`.
LAMBDAS_DIR = Path(__file__).resolve().parent.parent / "lambdas"
ASSET_EXCLUDE = ["**/__pycache__", "**/*.pyc", "*.egg-info", "**/*.egg-info"]

# Keep in step with requirements.txt (a test checks): the Lambda runs the Powertools the tests ran.
POWERTOOLS_VERSION = "3.37.0"
POWERTOOLS_PARAMETER = f"/aws/service/powertools/python/x86_64/python3.13/{POWERTOOLS_VERSION}"

FUNCTION_TIMEOUT = Duration.seconds(60)
MAX_RECEIVE_COUNT = 3

# The DynamoDB calls the state adapter (riposte.adapters.aws.dynamodb) makes; a test keeps the two in step.
STATE_TABLE_CALLS = ("dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:Query")
