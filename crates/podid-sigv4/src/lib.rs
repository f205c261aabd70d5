//! AWS Signature Version 4, verified the way AWS services verify it.
