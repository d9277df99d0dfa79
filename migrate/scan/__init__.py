"""scan: read how REST APIs are authorized today, from an AWS account or an API Gateway export."""
