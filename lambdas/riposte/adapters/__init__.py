"""Implementations of the core's ports: ``memory`` (in memory: the CLI, tests, the reference behaviour),
``http`` (urllib3, for notifiers) and ``aws`` (boto3: EC2 network ACLs, DynamoDB state)."""
