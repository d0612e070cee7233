"""boto3 implementations of the ports. The only place (with ``runtime``) that talks to AWS."""
