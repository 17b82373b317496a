//! The S3 store against a real Garage (`tests/s3/lib.sh`): multipart upload, digests, ranged
//! reads, delete, abort. The API tests run on S3 too with `GLANCE_TEST_STORE=s3|file+s3`.

mod glance_locations;
mod store;
