import io
import tarfile

import pytest

from rnnkit.data.archive import is_archive, iter_tar_files
from rnnkit.errors import UserError

LONG = "deep/" + "d" * 120 + "/file_with_a_long_name.txt"
FILES = {
    "top/a.txt": b"alpha",
    "top/sub/b.txt": b"",
    LONG: b"x" * 1500,
    "top/\u00e9t\u00e9.txt": b"e",
}


def make_tar(path, fmt, mode="w:gz"):
    with tarfile.open(path, mode, format=fmt) as tar:
        info = tarfile.TarInfo("top/")
        info.type = tarfile.DIRTYPE
        tar.addfile(info)
        for name, data in FILES.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        link = tarfile.TarInfo("top/link")
        link.type = tarfile.SYMTYPE
        link.linkname = "a.txt"
        tar.addfile(link)
    return path


COMPRESSIONS = [(".tar", "w"), (".tar.gz", "w:gz"), (".tar.bz2", "w:bz2"), (".tar.xz", "w:xz")]


@pytest.mark.parametrize("fmt", [tarfile.GNU_FORMAT, tarfile.PAX_FORMAT])
@pytest.mark.parametrize(("suffix", "mode"), COMPRESSIONS)
def test_reads_what_tarfile_wrote(tmp_path, fmt, suffix, mode):
    path = make_tar(tmp_path / f"a{suffix}", fmt, mode)
    files = dict(iter_tar_files(path))
    assert files == FILES  # directories and links are skipped


def test_accept_filters_members(tmp_path):
    path = make_tar(tmp_path / "a.tgz", tarfile.PAX_FORMAT)
    assert list(iter_tar_files(path, lambda name: name.endswith("b.txt"))) == [
        ("top/sub/b.txt", b"")
    ]


def test_corrupt_and_truncated_archives_raise_user_error(tmp_path):
    path = make_tar(tmp_path / "a.tar", tarfile.GNU_FORMAT, "w")
    data = path.read_bytes()
    (tmp_path / "bad.tar").write_bytes(b"garbage!" * 200)
    with pytest.raises(UserError, match="bad.tar is not a valid tar archive: bad header checksum"):
        list(iter_tar_files(tmp_path / "bad.tar"))
    middle = data.index(b"x" * 100) + 50
    for cut in (middle, 1700):  # inside the long file's data, inside a header
        (tmp_path / "cut.tar").write_bytes(data[:cut])
        with pytest.raises(UserError, match="truncated"):
            list(iter_tar_files(tmp_path / "cut.tar"))
    gz = make_tar(tmp_path / "a.tar.gz", tarfile.GNU_FORMAT).read_bytes()
    (tmp_path / "cut.tar.gz").write_bytes(gz[: len(gz) // 2])
    with pytest.raises(UserError, match="truncated"):
        list(iter_tar_files(tmp_path / "cut.tar.gz"))
    with pytest.raises(UserError, match="no such file"):
        list(iter_tar_files(tmp_path / "missing.tar.gz"))


def test_is_archive():
    assert is_archive("x/aclImdb_v1.tar.gz") and is_archive("a.TGZ") and is_archive("a.tar")
    assert not is_archive("a.csv") and not is_archive("a.gz")
