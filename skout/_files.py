"""Reading a user's files within limits: sizes checked before anything is decompressed.

``skout check`` loads a Keras model file, ``skout inspect`` a data file
(plain or compressed CSV/TSV, Parquet), :func:`skout.load_skops` a skops
archive. Each of these formats can hold a *decompression bomb*: a few
megabytes that expand to gigabytes when read (a zip member, a gzip stream,
an HDF5 dataset with a gzip filter, a Parquet column chunk). Everything here
is checked from what the file declares (a zip's central directory, HDF5 and
Parquet metadata) before the data is read, or, for a compressed stream that
declares nothing, while it is read, a chunk at a time:

* no more than ``max_bytes`` of data in all (:data:`MAX_BYTES` by default);
* beyond :data:`SMALL`, no more than :data:`MAX_RATIO` times what it takes on
  disk. Real data compresses 2 to 20 times, a Keras archive about once;
  DEFLATE's limit is about 1032, which bombs reach.

Nothing here imports NumPy, pandas or a framework: a file is refused before
they are asked to read it.
"""

from __future__ import annotations

import io
import os
import zipfile

__all__ = [
    "MAX_BYTES",
    "MAX_RATIO",
    "SMALL",
    "FileLimitError",
    "check_zip",
    "decompressed_copy",
    "load_skops",
    "open_limited",
]

#: The most data a file may hold, decompressed (``--max-size`` on the command line).
MAX_BYTES = 4 * 2**30
#: The most a compressed file may expand, beyond :data:`SMALL`.
MAX_RATIO = 100
#: Data up to this size may expand any amount (a small, very regular file).
SMALL = 16 * 2**20
#: The most members a zip archive may have.
MAX_MEMBERS = 10_000

_CHUNK = 2**20


class FileLimitError(ValueError):
    """A file holds more data than the limits allow, or expands like a bomb."""


def size_text(n):
    """Bytes in words: ``1.5 GiB``."""
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GiB"  # pragma: no cover


def parse_size(text):
    """``"4G"``, ``"500M"``, ``"1e9"`` -> bytes.

    Examples
    --------
    >>> parse_size("4G"), parse_size("512k"), parse_size("1000")
    (4294967296, 524288, 1000)
    """
    text = str(text).strip()
    units = {"k": 2**10, "m": 2**20, "g": 2**30, "t": 2**40}
    factor = units.get(text[-1:].lower(), 1)
    number = text[:-1] if factor != 1 else text
    try:
        value = int(float(number) * factor)
    except ValueError:
        raise ValueError(f"{text!r} is not a size: give bytes, or e.g. 500M or 4G.") from None
    if value <= 0:
        raise ValueError(f"{text!r} is not a size: it must be > 0.")
    return value


def _limit_error(path, what, n, max_bytes):
    return FileLimitError(
        f"{path} {what} {size_text(n)} of data, more than the limit of "
        f"{size_text(max_bytes)}. If you trust the file, raise the limit (--max-size "
        "on the command line, max_bytes= in Python)."
    )


def _ratio_error(path, what, n, stored):
    return FileLimitError(
        f"{path} {what} {size_text(n)} from {size_text(stored)} on disk, more than "
        f"{MAX_RATIO} times: real data does not compress that much; this looks like a "
        "decompression bomb, and was not read further."
    )


def check_sizes(path, declared, stored, *, max_bytes=MAX_BYTES, what="would expand to"):
    """Refuse ``declared`` bytes of data from ``stored`` bytes on disk, if too many."""
    if declared > max_bytes:
        raise _limit_error(path, what, declared, max_bytes)
    if declared > SMALL and declared > MAX_RATIO * max(stored, 1):
        raise _ratio_error(path, what, declared, stored)


def check_file_size(path, max_bytes=MAX_BYTES):
    """The size of ``path`` on disk, refused beyond ``max_bytes``."""
    size = os.path.getsize(path)
    if size > max_bytes:
        raise _limit_error(path, "holds", size, max_bytes)
    return size


def check_zip(path, max_bytes=MAX_BYTES):
    """The members of the zip archive ``path``, once their declared sizes pass.

    Reading a member never returns more than its declared size (``zipfile``
    stops there and checks the CRC), so the declared sizes bound what a
    reader of this archive can be made to hold.

    Raises
    ------
    FileLimitError
        Too many members, too much data, or a member (or the whole archive)
        expanding more than :data:`MAX_RATIO` times.
    zipfile.BadZipFile
        Not a zip archive.
    """
    check_file_size(path, max_bytes)
    with zipfile.ZipFile(path) as archive:
        members = archive.infolist()
    if len(members) > MAX_MEMBERS:
        raise FileLimitError(
            f"{path} is an archive of {len(members)} members, more than {MAX_MEMBERS}: "
            "not a file skout reads."
        )
    for info in members:  # one bomb member is not diluted by honest ones
        check_sizes(
            f"{path} (member {info.filename!r})", info.file_size, info.compress_size,
            max_bytes=max_bytes,
        )  # fmt: skip
    total = sum(info.file_size for info in members)
    check_sizes(path, total, sum(i.compress_size for i in members), max_bytes=max_bytes)
    return members


def check_hdf5(source, path, max_bytes=MAX_BYTES, stored=None):
    """Refuse an HDF5 file whose datasets hold too much, from its metadata only.

    ``source`` is a path or a file object; ``stored`` its size on disk. A
    dataset with a compression filter (gzip, say) can declare gigabytes in
    a few kilobytes: its declared size (shape times item size) is compared
    with the limits before any of it is read.
    """
    import h5py

    sizes = []

    def visit(_name, item):
        if isinstance(item, h5py.Dataset):
            sizes.append(int(item.size) * item.dtype.itemsize)

    with h5py.File(source, "r") as h5:
        h5.visititems(visit)
    stored = os.path.getsize(path) if stored is None else stored
    check_sizes(path, sum(sizes), stored, max_bytes=max_bytes, what="declares datasets of")


_PARQUET_WIDTHS = {"BOOLEAN": 1, "INT32": 4, "FLOAT": 4, "INT64": 8, "DOUBLE": 8, "INT96": 12}


def check_parquet(path, max_bytes=MAX_BYTES):
    """Refuse a Parquet file whose columns expand too much, from its footer.

    Run-length and dictionary encodings can declare a column of a billion
    zeros in a few bytes, so the decoded size is counted from the number of
    rows and each column's width (at least 16 bytes a value for strings),
    besides the pages' own declared sizes.
    """
    import pyarrow.parquet as pq

    stored = check_file_size(path, max_bytes)
    metadata = pq.ParquetFile(path).metadata
    schema = metadata.schema
    widths = []
    for j in range(len(schema)):
        column = schema.column(j)
        if column.physical_type == "FIXED_LEN_BYTE_ARRAY":
            widths.append(max(int(column.length or 0), 1))
        else:
            widths.append(_PARQUET_WIDTHS.get(column.physical_type, 16))
    pages = sum(metadata.row_group(i).total_byte_size for i in range(metadata.num_row_groups))
    declared = max(pages, metadata.num_rows * sum(widths))
    check_sizes(path, declared, stored, max_bytes=max_bytes, what="declares columns of")


class _Counting(io.RawIOBase):
    """A file that counts the bytes read from it."""

    def __init__(self, raw):
        self.raw, self.count = raw, 0

    def readable(self):
        return True

    def readinto(self, buffer):
        n = self.raw.readinto(buffer)
        self.count += n or 0
        return n

    def close(self):
        self.raw.close()
        super().close()


class _Limited(io.RawIOBase):
    """A decompressing reader that stops at the limits, checked as it goes."""

    def __init__(self, path, stream, counting, max_bytes):
        self.path, self.stream, self.counting = path, stream, counting
        self.max_bytes, self.produced = max_bytes, 0

    def readable(self):
        return True

    def readinto(self, buffer):
        data = self.stream.read(min(len(buffer), _CHUNK))
        self.produced += len(data)
        if self.produced > self.max_bytes:
            raise _limit_error(self.path, "decompresses to more than", self.max_bytes,
                               self.max_bytes)  # fmt: skip
        if self.produced > SMALL and self.produced > MAX_RATIO * max(self.counting.count, 1):
            raise _ratio_error(self.path, "decompressed to", self.produced, self.counting.count)
        buffer[: len(data)] = data
        return len(data)

    def close(self):
        self.stream.close()
        self.counting.close()
        super().close()


def open_limited(path, compression, max_bytes=MAX_BYTES):
    """A binary file object of the decompressed data of ``path``, within the limits.

    Parameters
    ----------
    path : str or path-like
    compression : {".gz", ".bz2", ".xz", ".zip", ".zst"}
        The compression, from the file's suffix.
    max_bytes : int
        The most decompressed data to give.

    Returns
    -------
    file : io.BufferedReader
        Raises :class:`FileLimitError` from ``read`` as soon as the data
        passes ``max_bytes``, or (beyond :data:`SMALL`) grows more than
        :data:`MAX_RATIO` times the compressed bytes read so far.
    """
    check_file_size(path, max_bytes)
    if compression == ".zip":
        members = [m for m in check_zip(path, max_bytes) if not m.is_dir()]
        if len(members) != 1:
            raise FileLimitError(f"{path} holds {len(members)} files; give a zip of one file.")
        archive = zipfile.ZipFile(path)
        return archive.open(members[0])  # reads stop at the checked declared size
    counting = _Counting(open(path, "rb"))  # noqa: SIM115 -- closed with the reader
    if compression == ".gz":
        import gzip

        stream = gzip.GzipFile(fileobj=io.BufferedReader(counting))
    elif compression == ".bz2":
        import bz2

        stream = bz2.BZ2File(io.BufferedReader(counting))
    elif compression == ".xz":
        import lzma

        stream = lzma.LZMAFile(io.BufferedReader(counting))
    elif compression == ".zst":
        try:
            import zstandard
        except ImportError:
            counting.close()
            raise ImportError(
                "reading .zst files needs zstandard: pip install zstandard"
            ) from None
        stream = zstandard.ZstdDecompressor().stream_reader(counting)
    else:
        counting.close()
        raise ValueError(f"unknown compression {compression!r}")
    return io.BufferedReader(_Limited(path, stream, counting, max_bytes), buffer_size=_CHUNK)


def decompressed_copy(path, compression, max_bytes=MAX_BYTES):
    """The decompressed data of ``path`` in a temporary file, within the limits.

    In memory up to 64 MiB, on disk beyond; a bomb is refused after at most
    :data:`SMALL` bytes of it were written. Close the file to delete it.
    """
    import shutil
    import tempfile

    copy = tempfile.SpooledTemporaryFile(max_size=64 * 2**20)
    try:
        with open_limited(path, compression, max_bytes) as stream:
            shutil.copyfileobj(stream, copy, _CHUNK)
    except BaseException:
        copy.close()
        raise
    copy.seek(0)
    return copy


#: The types of a skout model that ``load_skops`` trusts without being told.
SKOUT_TYPES = ("skout.classifier.AutoHeadClassifier", "skout.regressor.AutoHeadRegressor")


def load_skops(file, *, trusted=(), max_bytes=MAX_BYTES):
    """Load a skout model saved with ``skops.io.dump``, from a file you did not make.

    The file's sizes are checked before skops reads it (a skops file is a zip
    archive, so it can be a decompression bomb: see ``max_bytes``); then
    skops loads it, trusting skout's two estimator classes and the types in
    ``trusted``, and nothing else: a file asking for any other type is
    refused by skops, with the list of those types.

    Parameters
    ----------
    file : str or path-like
        The ``.skops`` file.
    trusted : sequence of str, default=()
        More types to trust, as ``skops.io.get_untrusted_types`` names them:
        a model with ``body=`` needs its build function or
        ``skout.body.KerasBody``; look at that list before you extend it.
    max_bytes : int, default=MAX_BYTES
        The most data the archive may hold, decompressed; beyond
        :data:`SMALL` it may also expand at most :data:`MAX_RATIO` times.

    Returns
    -------
    model : AutoHeadClassifier or AutoHeadRegressor

    Raises
    ------
    FileLimitError
        A ``ValueError``: the file holds too much, or expands like a bomb.
    skops.io.exceptions.UntrustedTypesFoundException
        The file asks for types that are not trusted.

    Examples
    --------
    >>> import skops.io as sio                                # doctest: +SKIP
    >>> sio.dump(model, "model.skops")                        # doctest: +SKIP
    >>> model = skout.load_skops("model.skops")               # doctest: +SKIP
    """
    import skops.io as sio

    check_zip(file, max_bytes)
    return sio.load(file, trusted=[*SKOUT_TYPES, *trusted])
