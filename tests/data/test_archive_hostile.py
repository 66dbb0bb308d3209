"""Hostile and corrupt archives: the reader ends quickly with one UserError, never hangs or crashes.

Each read runs under a ``SIGALRM`` guard, so a regression to an endless loop fails the test
instead of hanging the suite.
"""

import contextlib
import gzip
import io
import signal
import tarfile

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rnnkit.data.archive import iter_tar_files
from rnnkit.data.files import read_text_file
from rnnkit.data.tabular import read_labeled_csv
from rnnkit.errors import UserError

SECONDS = 5  # a hostile archive of a few blocks is rejected in milliseconds


class _TooSlow(Exception):
    pass


@contextlib.contextmanager
def time_limit(seconds: float = SECONDS):
    def on_alarm(signum, frame):
        raise _TooSlow(f"still reading after {seconds} s: the reader hangs")

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def read_all(path):
    with time_limit():
        return list(iter_tar_files(path))


def header(name: bytes, kind: bytes = b"0", size: int | bytes = 0, checksum=None) -> bytes:
    """A ustar header block with a correct checksum (unless ``checksum`` is given)."""
    block = bytearray(512)
    block[0 : len(name)] = name
    block[100:108] = b"0000644\0"
    block[108:116] = block[116:124] = b"0000000\0"
    block[124:136] = size if isinstance(size, bytes) else b"%011o\0" % size
    block[136:148] = b"00000000000\0"
    block[156:157] = kind
    block[257:265] = b"ustar\x0000"
    block[148:156] = b" " * 8
    block[148:156] = b"%06o\0 " % (sum(block) if checksum is None else checksum)
    return bytes(block)


def padded(data: bytes) -> bytes:
    return data + bytes(-len(data) % 512)


def pax_tar(records: bytes, content: bytes = b"hello") -> bytes:
    """A pax header holding ``records``, then a regular file, then the end-of-archive blocks."""
    return (
        header(b"././@PaxHeader", b"x", len(records))
        + padded(records)
        + header(b"a.txt", b"0", len(content))
        + padded(content)
        + bytes(1024)
    )


def write(tmp_path, name, data):
    path = tmp_path / name
    path.write_bytes(data)
    return path


def test_the_raw_writer_makes_archives_tarfile_reads(tmp_path):
    path = write(tmp_path, "ok.tar", pax_tar(b"14 path=b.txt\n"))
    with tarfile.open(path) as tar:
        assert tar.getnames() == ["b.txt"]
    assert read_all(path) == [("b.txt", b"hello")]


def test_zero_length_pax_record_in_a_tiny_tar_gz_ends_quickly(tmp_path):
    data = gzip.compress(pax_tar(b"0 path=x\n"), mtime=0)
    assert len(data) < 200  # the size of the archive in the report
    path = write(tmp_path, "aclImdb_v1.tar.gz", data)
    with pytest.raises(UserError) as error:
        read_all(path)
    message = str(error.value)
    assert message.startswith(f"{path} is not a valid tar archive: pax record of length 0")
    assert "; expected " in message and "\n" not in message


@pytest.mark.parametrize(
    ("records", "problem"),
    [
        (b"-5 path=x\n", "pax record length b'-5'"),
        (b"+9 path=x\n", "pax record length b'+9'"),
        (b"3 path=x\n", "pax record of length 3"),
        (b"99999999 path=x\n", "pax record of length 99999999 runs past the end"),
        (b"9" * 5000 + b" path=x\n", "pax record length"),
        (b"nonsense\n", "pax record length"),
        (b"9 path=xy\n", "does not end with a newline"),
        (b"11 path=xx\n12 x\n", "pax record of length 12 runs past"),
        (b"8 pathx\n", "key=value"),
        (b"7 =abc\n", "key=value"),
        (b"13 size=-100\n", "pax size '-100'"),
        (b"12 size=abc\n", "pax size 'abc'"),
        (b"7 \xff\xfe=x\n", "key"),
    ],
)
def test_malformed_pax_records_raise_user_error(tmp_path, records, problem):
    path = write(tmp_path, "evil.tar", pax_tar(records))
    with pytest.raises(UserError, match="evil.tar is not a valid tar archive: .*; expected") as e:
        read_all(path)
    assert problem in str(e.value)


@pytest.mark.parametrize(
    ("size", "problem"),
    [
        (b"-0000000001\0", "bad number"),
        (b"0o000000001\0", "bad number"),
        (b"\xff" * 12, "negative"),
        (b"77777777777\0", "truncated"),  # 8 GiB promised, nothing there
        (b"\x80" + b"\xff" * 11, "truncated"),  # base-256: 2**88 bytes
    ],
)
def test_bad_member_sizes_raise_user_error(tmp_path, size, problem):
    for kind in (b"0", b"x", b"L", b"5"):
        data = header(b"a.txt", kind, size) + padded(b"abc") + bytes(1024)
        path = write(tmp_path, "evil.tar", data)
        with pytest.raises(UserError, match=f"not a valid tar archive: .*({problem}|at most)"):
            read_all(path)


def test_garbage_wrong_checksum_empty_and_truncated_archives(tmp_path):
    good = pax_tar(b"14 path=b.txt\n", b"x" * 700)
    cases = {
        "garbage": b"garbage!" * 200,
        "checksum": header(b"a.txt", size=3, checksum=12345) + padded(b"abc") + bytes(1024),
        "empty": b"",
        "short": b"\0" * 100,
        "cut in a header": good[:700],
        "cut in the data": good[: 1536 + 300],
    }
    for case, data in cases.items():
        path = write(tmp_path, "evil.tar", data)
        with pytest.raises(UserError, match="evil.tar is not a valid tar archive: .*; expected"):
            read_all(path)
        if case.startswith("cut"):
            path = write(tmp_path, "evil.tar.gz", gzip.compress(data))
            with pytest.raises(UserError, match="truncated"):
                read_all(path)


def test_corrupt_compressed_streams_raise_user_error(tmp_path):
    tar = pax_tar(b"14 path=b.txt\n", bytes(range(256)) * 40)
    compressed = {
        "gz": gzip.compress(tar, mtime=0),
        "bz2": __import__("bz2").compress(tar),
        "xz": __import__("lzma").compress(tar),
    }
    for suffix, data in compressed.items():
        middle = len(data) // 2
        flipped = data[:middle] + bytes(b ^ 0x5A for b in data[middle : middle + 8])
        variants = {
            "flipped": flipped + data[middle + 8 :],
            "cut": data[: len(data) - 10],
            "header only": data[:10],
            "trailing garbage": data + b"garbage",
        }
        for variant in variants.values():
            path = write(tmp_path, f"evil.tar.{suffix}", variant)
            with pytest.raises(UserError, match=f"evil.tar.{suffix} is not a valid tar archive"):
                read_all(path)
    crc = bytearray(compressed["gz"])
    crc[-8] ^= 1  # a wrong CRC-32: only the end of the stream tells
    with pytest.raises(UserError, match="CRC|incorrect data check"):
        read_all(write(tmp_path, "crc.tar.gz", bytes(crc)))


def test_concatenated_compressed_streams_and_zero_padding_are_read(tmp_path):
    tar = pax_tar(b"14 path=b.txt\n", b"y" * 3000)
    half = len(tar) // 2
    data = gzip.compress(tar[:half]) + gzip.compress(tar[half:]) + bytes(100)
    assert read_all(write(tmp_path, "two.tar.gz", data)) == [("b.txt", b"y" * 3000)]


@pytest.mark.parametrize("reader", [read_text_file, read_labeled_csv])
def test_corrupt_gz_text_files_raise_user_error(tmp_path, reader):
    text = "text,label\n" + "".join(f"review number {i},pos\n" for i in range(200))
    data = gzip.compress(text.encode(), mtime=0)
    middle = len(data) // 2
    variants = {
        "flipped": data[:middle]
        + bytes(b ^ 0xFF for b in data[middle : middle + 6])
        + data[middle + 6 :],
        "cut": data[: len(data) - 12],
        "crc": data[:-8] + bytes([data[-8] ^ 1]) + data[-7:],
        "not gzip": b"plain text",
        "empty": b"",
    }
    for variant in variants.values():
        path = write(tmp_path, "reviews.csv.gz", variant)
        with pytest.raises(UserError, match="reviews.csv.gz: expected a gzip file, got a corrupt"):
            with time_limit():
                reader(path)
    assert reader(write(tmp_path, "ok.csv.gz", data))


_GOOD = pax_tar(b"13 path=b.txt\n30 comment=a pax comment here\n", b"content " * 100)
_FUZZ = settings(
    max_examples=200,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)


@pytest.fixture(scope="module")
def fuzz_path(tmp_path_factory):
    return tmp_path_factory.mktemp("fuzz") / "fuzz.tar"


def _only_user_errors(path, data: bytes) -> None:
    path.write_bytes(data)
    try:
        read_all(path)
    except UserError as error:
        assert f"{path} is not a valid tar archive: " in str(error)


@_FUZZ
@given(data=st.binary(max_size=3000))
def test_fuzz_random_bytes(fuzz_path, data):
    _only_user_errors(fuzz_path, data)


@_FUZZ
@given(
    mutations=st.lists(st.tuples(st.integers(0), st.integers(0, 255)), min_size=1, max_size=6),
    cut=st.integers(0),
    compress=st.booleans(),
)
def test_fuzz_mutated_archives(fuzz_path, mutations, cut, compress):
    data = bytearray(gzip.compress(_GOOD, mtime=0) if compress else _GOOD)
    for position, value in mutations:
        data[position % len(data)] = value
    _only_user_errors(fuzz_path, bytes(data[: cut % (len(data) + 1)] if cut else data))


@_FUZZ
@given(records=st.binary(max_size=120), with_length=st.booleans())
def test_fuzz_pax_records(fuzz_path, records, with_length):
    if with_length:  # mostly well-formed lengths, so the parser gets past the first check
        records = b"%d %s\n" % (len(records) + len(str(len(records))) + 2, records)
    _only_user_errors(fuzz_path, pax_tar(records))


def test_the_reader_accepts_what_it_should(tmp_path):
    """The checks do not reject archives tarfile writes (pax with long names and odd values)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        info = tarfile.TarInfo("d/" + "n" * 150 + "/\u00e9.txt")
        info.size = 3
        info.pax_headers = {"comment": "multi\nline = value", "x.y": ""}
        tar.addfile(info, io.BytesIO(b"abc"))
    path = write(tmp_path, "ok.tar", buffer.getvalue())
    assert read_all(path) == [("d/" + "n" * 150 + "/\u00e9.txt", b"abc")]
