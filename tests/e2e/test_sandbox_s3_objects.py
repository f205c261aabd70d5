"""The sandbox's object store through the real AWS CLI and boto3: multipart uploads, ranges,
copies, conditional reads, pagination, keys that need encoding, and objects that outlive a
restart, including one killed without warning."""

import hashlib
import os
import signal
import socket
import subprocess

from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from sandbox import Sandbox, error_response, module_sandbox, wait_until


sandbox = module_sandbox("objects")


def test_a_large_file_goes_up_in_parts_and_comes_back_whole(sandbox, tmp_path):
    big = tmp_path / "big.bin"
    data = os.urandom(13 * 1024 * 1024)
    big.write_bytes(data)
    assert sandbox.aws("s3", "mb", "s3://large").returncode == 0
    # The CLI splits files of 8 MiB and more into 8 MiB parts.
    copied = sandbox.aws("s3", "cp", big, "s3://large/big.bin")
    assert copied.returncode == 0, copied.stderr
    head = sandbox.s3().head_object(Bucket="large", Key="big.bin")
    assert head["ContentLength"] == len(data)
    part_md5s = [hashlib.md5(data[i:i + 8 << 20]).digest() for i in range(0, len(data), 8 << 20)]
    assert head["ETag"] == f'"{hashlib.md5(b"".join(part_md5s)).hexdigest()}-2"'

    back = tmp_path / "back.bin"
    fetched = sandbox.aws("s3", "cp", "s3://large/big.bin", back)
    assert fetched.returncode == 0, fetched.stderr
    assert back.read_bytes() == data


def status_kib(pid, field):
    """A `VmRSS`-style field of /proc/PID/status, in KiB."""
    with open(f"/proc/{pid}/status", encoding="utf-8") as status:
        for line in status:
            if line.startswith(f"{field}:"):
                return int(line.split()[1])
    raise AssertionError(f"no {field} in /proc/{pid}/status")


def reset_peak(pid):
    """Resets the process's peak resident size (VmHWM) to its current one, and returns that."""
    with open(f"/proc/{pid}/clear_refs", "w", encoding="utf-8") as clear:
        clear.write("5")
    return status_kib(pid, "VmRSS")


def test_objects_stream_in_and_out_without_being_held_in_memory(sandbox, tmp_path):
    size = 192 * 1024 * 1024
    source = tmp_path / "huge.bin"
    block = os.urandom(1024 * 1024)
    sent = hashlib.sha256()
    with open(source, "wb") as out:
        for index in range(size // len(block)):
            chunk = index.to_bytes(4, "big") + block[4:]
            sent.update(chunk)
            out.write(chunk)
    s3 = sandbox.s3()
    s3.create_bucket(Bucket="streamed")
    pid = sandbox.process.pid

    before = reset_peak(pid)
    with open(source, "rb") as upload:
        s3.upload_fileobj(upload, "streamed", "huge.bin")
    source.unlink()
    peak_growth_kib = status_kib(pid, "VmHWM") - before
    assert peak_growth_kib < 64 * 1024, \
        f"the sandbox grew by {peak_growth_kib} KiB receiving a {size >> 20} MiB object"

    before = reset_peak(pid)
    body = s3.get_object(Bucket="streamed", Key="huge.bin")["Body"]
    received, digest = 0, hashlib.sha256()
    for chunk in iter(lambda: body.read(1024 * 1024), b""):
        digest.update(chunk)
        received += len(chunk)
    assert received == size and digest.digest() == sent.digest()
    peak_growth_kib = status_kib(pid, "VmHWM") - before
    assert peak_growth_kib < 64 * 1024, \
        f"the sandbox grew by {peak_growth_kib} KiB serving a {size >> 20} MiB object"


def test_multipart_rules(sandbox):
    s3 = sandbox.s3()
    s3.create_bucket(Bucket="parts")
    upload = s3.create_multipart_upload(Bucket="parts", Key="k")["UploadId"]
    small = s3.upload_part(Bucket="parts", Key="k", UploadId=upload, PartNumber=1, Body=b"a")
    last = s3.upload_part(Bucket="parts", Key="k", UploadId=upload, PartNumber=2, Body=b"b")
    parts = [{"PartNumber": 1, "ETag": small["ETag"]}, {"PartNumber": 2, "ETag": last["ETag"]}]
    too_small = error_response(lambda: s3.complete_multipart_upload(
        Bucket="parts", Key="k", UploadId=upload, MultipartUpload={"Parts": parts}))
    assert too_small["Error"]["Code"] == "EntityTooSmall"
    out_of_order = error_response(lambda: s3.complete_multipart_upload(
        Bucket="parts", Key="k", UploadId=upload, MultipartUpload={"Parts": parts[::-1]}))
    assert out_of_order["Error"]["Code"] == "InvalidPartOrder"
    wrong_tag = [{"PartNumber": 1, "ETag": '"00000000000000000000000000000000"'}]
    assert error_response(lambda: s3.complete_multipart_upload(
        Bucket="parts", Key="k", UploadId=upload,
        MultipartUpload={"Parts": wrong_tag}))["Error"]["Code"] == "InvalidPart"
    # The last part alone may be small.
    done = s3.complete_multipart_upload(Bucket="parts", Key="k", UploadId=upload,
                                        MultipartUpload={"Parts": parts[1:]})
    assert done["ETag"].endswith('-1"')
    assert s3.get_object(Bucket="parts", Key="k")["Body"].read() == b"b"

    aborted = s3.create_multipart_upload(Bucket="parts", Key="gone")["UploadId"]
    s3.abort_multipart_upload(Bucket="parts", Key="gone", UploadId=aborted)
    gone = error_response(lambda: s3.upload_part(Bucket="parts", Key="gone", UploadId=aborted,
                                           PartNumber=1, Body=b"x"))
    assert gone["Error"]["Code"] == "NoSuchUpload"
    forged = error_response(lambda: s3.upload_part(Bucket="parts", Key="k", UploadId="../../tmp",
                                             PartNumber=1, Body=b"x"))
    assert forged["Error"]["Code"] == "NoSuchUpload"


def test_ranges_copies_and_conditions(sandbox):
    s3 = sandbox.s3()
    s3.create_bucket(Bucket="reads")
    body = bytes(range(256)) * 4
    put = s3.put_object(Bucket="reads", Key="data.bin", Body=body, ContentType="app/x-test",
                        Metadata={"Team": "a"})
    assert put["ETag"] == f'"{hashlib.md5(body).hexdigest()}"'

    ranged = s3.get_object(Bucket="reads", Key="data.bin", Range="bytes=10-19")
    assert ranged["ResponseMetadata"]["HTTPStatusCode"] == 206
    assert ranged["ContentRange"] == "bytes 10-19/1024"
    assert ranged["Body"].read() == body[10:20]
    assert s3.get_object(Bucket="reads", Key="data.bin",
                         Range="bytes=-5")["Body"].read() == body[-5:]
    beyond = error_response(lambda: s3.get_object(Bucket="reads", Key="data.bin",
                                            Range="bytes=5000-"))
    assert beyond["Error"]["Code"] == "InvalidRange"

    got = s3.get_object(Bucket="reads", Key="data.bin")
    assert got["ContentType"] == "app/x-test" and got["Metadata"] == {"team": "a"}
    not_modified = error_response(lambda: s3.get_object(Bucket="reads", Key="data.bin",
                                                  IfNoneMatch=put["ETag"]))
    assert not_modified["ResponseMetadata"]["HTTPStatusCode"] == 304
    failed = error_response(lambda: s3.get_object(Bucket="reads", Key="data.bin", IfMatch='"nope"'))
    assert failed["Error"]["Code"] == "PreconditionFailed"

    s3.copy_object(Bucket="reads", Key="copy.bin",
                   CopySource={"Bucket": "reads", "Key": "data.bin"})
    copy = s3.get_object(Bucket="reads", Key="copy.bin")
    assert copy["Body"].read() == body and copy["Metadata"] == {"team": "a"}
    onto_itself = error_response(lambda: s3.copy_object(
        Bucket="reads", Key="data.bin", CopySource={"Bucket": "reads", "Key": "data.bin"}))
    assert onto_itself["Error"]["Code"] == "InvalidRequest"
    missing = error_response(lambda: s3.get_object(Bucket="reads", Key="nothing"))
    assert missing["Error"]["Code"] == "NoSuchKey"
    no_bucket = error_response(lambda: s3.get_object(Bucket="no-such-bucket", Key="k"))
    assert no_bucket["Error"]["Code"] == "NoSuchBucket"
    not_empty = error_response(lambda: s3.delete_bucket(Bucket="reads"))
    assert not_empty["Error"]["Code"] == "BucketNotEmpty"


def test_pages_prefixes_and_keys_that_need_encoding(sandbox):
    s3 = sandbox.s3()
    s3.create_bucket(Bucket="listing")
    keys = [f"logs/{day:02d}.log" for day in range(1, 8)] + \
        ["top level.txt", "odd/ü+%&?=.txt", "odd/a b/c"]
    for key in keys:
        s3.put_object(Bucket="listing", Key=key, Body=key.encode())

    pages = s3.get_paginator("list_objects_v2").paginate(
        Bucket="listing", PaginationConfig={"PageSize": 3})
    listed = [item["Key"] for page in pages for item in page.get("Contents", [])]
    assert listed == sorted(keys)

    rolled = s3.list_objects_v2(Bucket="listing", Delimiter="/")
    assert [p["Prefix"] for p in rolled["CommonPrefixes"]] == ["logs/", "odd/"]
    assert [o["Key"] for o in rolled["Contents"]] == ["top level.txt"]
    odd = s3.list_objects_v2(Bucket="listing", Prefix="odd/", Delimiter="/")
    assert [o["Key"] for o in odd["Contents"]] == ["odd/ü+%&?=.txt"]
    assert [p["Prefix"] for p in odd["CommonPrefixes"]] == ["odd/a b/"]

    v1 = s3.get_paginator("list_objects").paginate(
        Bucket="listing", Delimiter="/", PaginationConfig={"PageSize": 1})
    entries = [e.get("Key") or e.get("Prefix") for page in v1
               for e in page.get("Contents", []) + page.get("CommonPrefixes", [])]
    assert sorted(entries) == ["logs/", "odd/", "top level.txt"]

    assert s3.get_object(Bucket="listing", Key="odd/ü+%&?=.txt")["Body"].read() == \
        "odd/ü+%&?=.txt".encode()
    deleted = s3.delete_objects(Bucket="listing", Delete={"Objects": [{"Key": k} for k in keys]})
    assert len(deleted["Deleted"]) == len(keys)
    assert "Contents" not in s3.list_objects_v2(Bucket="listing")
    bad_token = error_response(lambda: s3.list_objects_v2(Bucket="listing", ContinuationToken="%%"))
    assert bad_token["Error"]["Code"] == "InvalidArgument"


def node_processes(sandbox):
    """The pids of processes whose command line names the sandbox's data directory."""
    found = subprocess.run(["pgrep", "-f", str(sandbox.data)], capture_output=True, text=True)
    return found.stdout.split()


def test_acknowledged_objects_survive_a_kill(tmp_path):
    sandbox = Sandbox(tmp_path).start()
    try:
        s3 = sandbox.s3()
        s3.create_bucket(Bucket="durable")
        for index in range(20):
            s3.put_object(Bucket="durable", Key=f"object-{index:02d}", Body=b"x" * index)
        s3.delete_object(Bucket="durable", Key="object-00")
    finally:
        sandbox.stop(sig=signal.SIGKILL)
    # The node's agent and metadata service notice that the sandbox is gone, and stop.
    assert wait_until(lambda: not node_processes(sandbox)), node_processes(sandbox)
    sandbox.start()
    try:
        s3 = sandbox.s3()
        listed = s3.list_objects_v2(Bucket="durable")["Contents"]
        assert [o["Key"] for o in listed] == [f"object-{i:02d}" for i in range(1, 20)]
        assert s3.get_object(Bucket="durable", Key="object-19")["Body"].read() == b"x" * 19
    finally:
        sandbox.stop()


def read_response(sock):
    """One HTTP response from a raw socket: status and body."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, f"connection closed after {data!r}"
        data += chunk
    head, rest = data.split(b"\r\n\r\n", 1)
    status = int(head.split(b" ", 2)[1])
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    while len(rest) < length:
        rest += sock.recv(65536)
    return status, rest[:length]


def raw_signed(sandbox, method, path, body=b"", expect=False):
    """A request signed as boto3 signs it, as raw bytes, headers apart from the body."""
    credentials = Credentials(sandbox.exports["AWS_ACCESS_KEY_ID"],
                              sandbox.exports["AWS_SECRET_ACCESS_KEY"])
    request = AWSRequest(method=method, url=f"{sandbox.endpoint}{path}", data=body)
    S3SigV4Auth(credentials, "s3", "us-east-1").add_auth(request)
    headers = dict(request.headers.items())
    headers["Content-Length"] = str(len(body))
    if expect:
        headers["Expect"] = "100-continue"
    lines = [f"{method} {path} HTTP/1.1", f"Host: {sandbox.endpoint.split('//')[1]}"]
    lines += [f"{name}: {value}" for name, value in headers.items() if name.lower() != "host"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def test_a_refused_upload_leaves_the_connection_clean(sandbox):
    """A client that sent `Expect: 100-continue` may send its body after all (botocore does
    when no answer came within a second); the next request on the connection must be read as
    itself, not mixed with that body."""
    sandbox.s3().create_bucket(Bucket="expect")
    body = b"part bytes"
    with socket.create_connection(("127.0.0.1", sandbox.port_base)) as sock:
        sock.settimeout(10)
        sock.sendall(raw_signed(sandbox, "PUT", "/expect/k?partNumber=1&uploadId=" + "0" * 32,
                                body, expect=True))
        status, _ = read_response(sock)
        sock.sendall(body)
        if status == 100:
            status, answer = read_response(sock)
            assert status == 404 and b"NoSuchUpload" in answer, answer
        sock.sendall(raw_signed(sandbox, "GET", "/expect?list-type=2"))
        status, answer = read_response(sock)
        assert status == 200 and b"<Name>expect</Name>" in answer, answer
