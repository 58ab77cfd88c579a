"""Hostile files: decompression bombs and files that are not what their name says.

The bombs are built in a few milliseconds from one DEFLATE segment repeated
(a segment that ends in a full flush depends on nothing before it): about
4 MB on disk that expand to about 3.9 GB, under the 4 GiB that Keras's own
check starts at. skout must refuse each before reading it, within a ceiling
of memory and time measured in a fresh process.
"""

from __future__ import annotations

import os
import struct
import subprocess
import sys
import textwrap
import zlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from skout.cli import main

#: Decompressed size of the bombs (MiB); SKOUT_TEST_BOMB_MIB makes them smaller
#: (to run the tests on an older skout without exhausting the machine).
BOMB_MIB = int(os.environ.get("SKOUT_TEST_BOMB_MIB", "3900"))
CEILING_MIB, CEILING_SECONDS = 200, 2.0


def _deflate(header, chunk, copies):
    """Raw DEFLATE of ``header + chunk * copies``, about a thousandth of its size."""

    def segment(data):
        compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
        return compressor.compress(data) + compressor.flush(zlib.Z_FULL_FLUSH)

    end = zlib.compressobj(9, zlib.DEFLATED, -15).flush()
    return segment(header) + segment(chunk) * copies + end


def _zip_bomb(path, name, header, chunk, copies):
    """A zip archive of one deflated member (its CRC is left 0: it is never reached)."""
    data = _deflate(header, chunk, copies)
    size, name = len(header) + len(chunk) * copies, name.encode()
    local = struct.pack(
        "<IHHHHHIIIHH", 0x04034B50, 20, 0, 8, 0, 0, 0, len(data), size, len(name), 0
    )
    central = struct.pack(
        "<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, 0, 8, 0, 0, 0, len(data), size, len(name),
        0, 0, 0, 0, 0, 0,
    )  # fmt: skip
    directory_at = len(local) + len(name) + len(data)
    end = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, 1, 1, len(central) + len(name),
                      directory_at, 0)  # fmt: skip
    Path(path).write_bytes(local + name + data + central + name + end)
    return path


def _gzip_bomb(path, header, chunk, copies):
    size = len(header) + len(chunk) * copies
    head = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff"  # deflate, no name, no time
    trailer = struct.pack("<II", 0, size & 0xFFFFFFFF)
    Path(path).write_bytes(head + _deflate(header, chunk, copies) + trailer)
    return path


_CSV_CHUNK = b"1,2\n" * 2**18  # 1 MiB


@pytest.fixture
def data_csv(tmp_path):
    path = tmp_path / "data.csv"
    path.write_text("a,b,y\n1,2,cat\n3,4,dog\n5,6,bird\n")
    return path


_MEASURE = textwrap.dedent(
    """
    import json, sys, threading, time
    import numpy, pandas, psutil, sklearn
    import skout.doctor, skout.heads  # what the command imports before reading a file
    from skout.cli import main

    process = psutil.Process()
    before = peak = process.memory_info().rss
    done = threading.Event()

    def sample():  # RSS every millisecond while the command runs
        global peak
        while not done.is_set():
            peak = max(peak, process.memory_info().rss)
            time.sleep(0.001)

    def high_water():  # the kernel's peak for this process (ru_maxrss is inherited)
        with open(f"/proc/{process.pid}/status") as f:
            line = next((l for l in f if l.startswith("VmHWM:")), "VmHWM: 0 kB")
        return int(line.split()[1]) * 1024

    sampler = threading.Thread(target=sample)
    sampler.start()
    start = time.perf_counter()
    status = main(sys.argv[1:])
    seconds = time.perf_counter() - start
    done.set()
    sampler.join()
    peak = max(peak, high_water())
    print(json.dumps({"status": status, "seconds": seconds, "before_mib": before / 2**20,
                      "grew_mib": (peak - before) / 2**20,
                      "tensorflow": "tensorflow" in sys.modules}))
    """
)


def _measured(*argv):
    out = subprocess.run(
        [sys.executable, "-c", _MEASURE, *map(str, argv)],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    import json

    assert out.stdout.strip(), out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1]), out.stderr


def test_a_keras_zip_bomb_is_refused_within_the_ceiling(tmp_path, data_csv):
    bomb = _zip_bomb(tmp_path / "bomb.keras", "config.json", b"", b" " * 2**20, BOMB_MIB)
    assert bomb.stat().st_size < 5 * 2**20
    result, err = _measured("check", bomb, data_csv, "--target", "y")
    assert result["status"] == 2, err
    assert result["grew_mib"] < CEILING_MIB, result
    assert result["seconds"] < CEILING_SECONDS, result
    assert not result["tensorflow"]  # refused before the framework is imported
    assert "decompression bomb" in err, err


def test_a_compressed_csv_bomb_is_refused_within_the_ceiling(tmp_path):
    bomb = _gzip_bomb(tmp_path / "data.csv.gz", b"y,x\n", _CSV_CHUNK, BOMB_MIB)
    assert bomb.stat().st_size < 5 * 2**20
    result, err = _measured("inspect", bomb, "--target", "y")
    assert result["status"] == 2, err
    assert result["grew_mib"] < CEILING_MIB, result
    assert result["seconds"] < CEILING_SECONDS, result
    assert "decompression bomb" in err, err


@pytest.mark.parametrize("suffix", [".gz", ".bz2", ".xz", ".zip"])
def test_honest_compressed_csv_reads_as_the_plain_file(tmp_path, capsys, suffix):
    frame = pd.DataFrame({"x": np.arange(300) / 7.0, "y": np.where(np.arange(300) % 3, "a", "b")})
    plain = tmp_path / "data.csv"
    frame.to_csv(plain, index=False)
    packed = tmp_path / f"data.csv{suffix}"
    frame.to_csv(packed, index=False)
    assert main(["inspect", str(plain), "--target", "y"]) == 0
    expected = capsys.readouterr().out.replace(str(plain), "DATA")
    assert main(["inspect", str(packed), "--target", "y"]) == 0
    assert capsys.readouterr().out.replace(str(packed), "DATA") == expected


def test_a_zip_csv_bomb_is_refused_from_its_declared_size(tmp_path, capsys):
    bomb = _zip_bomb(tmp_path / "data.csv.zip", "data.csv", b"y,x\n", _CSV_CHUNK, 64)
    assert main(["inspect", str(bomb), "--target", "y"]) == 2
    assert "decompression bomb" in capsys.readouterr().err


def test_max_size_bounds_plain_and_parquet_files(tmp_path, capsys):
    frame = pd.DataFrame({"x": np.zeros(200_000), "y": np.arange(200_000) % 2})
    frame.to_csv(tmp_path / "d.csv", index=False)
    frame.to_parquet(tmp_path / "d.parquet")
    for name in ("d.csv", "d.parquet"):
        assert main(["inspect", str(tmp_path / name), "--target", "y", "--max-size", "100k"]) == 2
        err = capsys.readouterr().err
        assert "more than the limit of 100.0 KiB" in err and "--max-size" in err
        assert main(["inspect", str(tmp_path / name), "--target", "y"]) == 0
        capsys.readouterr()


def test_an_hdf5_dataset_bomb_is_refused_before_keras_reads_it(tmp_path, data_csv, capsys):
    import h5py

    path = tmp_path / "model.h5"
    with h5py.File(path, "w") as h5:  # 64 MiB of zeros in a few KiB
        h5.create_dataset("w", data=np.zeros(2**24, np.float32), compression="gzip", chunks=True)
    assert path.stat().st_size < 2**20
    assert main(["check", str(path), str(data_csv), "--target", "y"]) == 2
    assert "declares datasets of 64.0 MiB" in capsys.readouterr().err


def test_a_bomb_inside_a_keras_archives_weights_is_refused(tmp_path, data_csv, capsys):
    import zipfile

    import h5py
    import keras

    good = tmp_path / "good.keras"
    keras.Sequential([keras.Input((2,)), keras.layers.Dense(3, activation="softmax")]).save(good)
    weights = tmp_path / "w.h5"
    with h5py.File(weights, "w") as h5:
        h5.create_dataset("w", data=np.zeros(2**24, np.float32), compression="gzip", chunks=True)
    bad = tmp_path / "bad.keras"
    with zipfile.ZipFile(good) as source, zipfile.ZipFile(bad, "w") as target:
        for info in source.infolist():
            data = source.read(info)
            target.writestr(info, weights.read_bytes() if info.filename.endswith(".h5") else data)
    assert main(["check", str(bad), str(data_csv), "--target", "y"]) == 2
    assert "model.weights.h5" in capsys.readouterr().err
    assert main(["check", str(good), str(data_csv), "--target", "y"]) == 0


def test_an_hdf5_file_named_keras_is_named_as_such(tmp_path, data_csv, capsys):
    import h5py

    path = tmp_path / "old.keras"
    with h5py.File(path, "w") as h5:
        h5.create_dataset("w", data=np.zeros(3))
    assert main(["check", str(path), str(data_csv), "--target", "y"]) == 2
    err = capsys.readouterr().err
    assert "is an HDF5 file" in err and "rename it to end in .h5" in err
    assert "not found" not in err.lower()


def test_load_skops_trusts_skouts_types_and_refuses_a_bomb(tmp_path):
    import skops.io as sio

    from skout import AutoHeadRegressor, load_skops

    X = np.random.RandomState(0).randn(20, 3)
    model = AutoHeadRegressor(hidden_layer_sizes=(3,), max_iter=3).fit(X, X[:, 0])
    sio.dump(model, tmp_path / "m.skops")
    np.testing.assert_array_equal(load_skops(tmp_path / "m.skops").predict(X), model.predict(X))
    bomb = _zip_bomb(tmp_path / "b.skops", "schema.json", b"", b" " * 2**20, 64)
    with pytest.raises(ValueError, match="decompression bomb"):
        load_skops(bomb)


@pytest.mark.parametrize("text, size", [("4G", 4 * 2**30), ("500M", 500 * 2**20), ("1e6", 10**6)])
def test_sizes_are_read_with_units(text, size):
    from skout import _files

    assert _files.parse_size(text) == size


def test_a_parquet_run_length_bomb_is_refused_from_its_footer(tmp_path, capsys):
    frame = pd.DataFrame({"x": np.zeros(3_000_000), "y": np.zeros(3_000_000, dtype=np.int64)})
    frame.to_parquet(tmp_path / "d.parquet")  # run-length encoded: a few KiB
    assert (tmp_path / "d.parquet").stat().st_size < 100_000
    assert main(["inspect", str(tmp_path / "d.parquet"), "--target", "y"]) == 2
    assert "decompression bomb" in capsys.readouterr().err
