"""runnable on AWS: an S3 catalog, an S3 run log store and AWS Secrets Manager secrets.

Nothing here imports boto3 or s3fs at import time: runnable imports every installed plugin to list it, so the
clients are imported where they are first used.
"""
