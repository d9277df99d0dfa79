"""avp-migrate: move API Gateway REST APIs from OAuth scopes to Cedar policies in Amazon Verified Permissions."""

__version__ = "0.1.0"
