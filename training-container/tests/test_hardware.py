"""hardware.py: the CPU flags serve logs, and the gunicorn size it picks from the vCPUs (or the environment)."""
import pytest

from logo_detector.hardware import ServerSize, SizingError, cpu_flags, describe_cpu, int8_outlook, server_size

CASCADE_LAKE = """processor\t: 0
vendor_id\t: GenuineIntel
model name\t: Intel(R) Xeon(R) Platinum 8259CL CPU @ 2.50GHz
flags\t\t: fpu sse sse2 avx avx2 fma avx512f avx512dq avx512bw avx512vl avx512_vnni

processor\t: 1
model name\t: Intel(R) Xeon(R) Platinum 8259CL CPU @ 2.50GHz
flags\t\t: fpu sse sse2 avx avx2 fma avx512f avx512dq avx512bw avx512vl avx512_vnni
"""
SKYLAKE = "model name\t: Intel(R) Xeon(R) Platinum 8175M CPU @ 2.50GHz\nflags\t\t: fpu avx avx2 fma avx512f avx512bw\n"
EPYC = "model name\t: AMD EPYC 7571\nflags\t\t: fpu avx avx2 fma\n"


def test_the_flags_are_the_first_processors():
    assert cpu_flags(CASCADE_LAKE) >= {"avx2", "avx512f", "avx512_vnni"}
    assert "avx512_vnni" not in cpu_flags(SKYLAKE)
    assert cpu_flags("") == frozenset()


def test_the_log_line_names_the_cpu_what_it_has_and_lacks_and_what_int8_will_do():
    line = describe_cpu(CASCADE_LAKE)
    assert line.startswith("CPU Intel(R) Xeon(R) Platinum 8259CL CPU @ 2.50GHz: has avx2 fma avx512f avx512_vnni; "
                           "lacks avx_vnni avx512_bf16 amx_tile amx_int8 (VNNI present")
    assert "without VNNI" in describe_cpu(SKYLAKE)
    assert "no AVX-512" in describe_cpu(EPYC) and "no AVX-512" in int8_outlook(frozenset())
    assert describe_cpu("").startswith("CPU unknown CPU: has none of them; lacks avx2 fma")


@pytest.mark.parametrize("vcpus, variant, expected", [
    (1, "int8", (1, 1)),
    (2, "int8", (2, 1)),
    (4, "int8", (4, 1)),
    (2, "fp32", (2, 1)),
    (4, "fp32", (4, 1)),
    (16, "fp32", (16, 1)),
])
def test_one_worker_per_vcpu_with_one_thread_each(vcpus, variant, expected):
    size = server_size(vcpus, variant, {})
    assert (size.workers, size.threads) == expected
    assert f"{vcpus} vCPUs, {variant} model" in size.reason


@pytest.mark.parametrize("environ, expected", [
    ({"MODEL_SERVER_WORKERS": "1"}, ServerSize(1, 4, "MODEL_SERVER_WORKERS=1")),
    ({"MODEL_SERVER_WORKERS": "2"}, ServerSize(2, 2, "MODEL_SERVER_WORKERS=2")),
    ({"OMP_NUM_THREADS": "2"}, ServerSize(4, 2, "4 vCPUs, int8 model: one worker per vCPU, one thread each, "
                                                "OMP_NUM_THREADS=2")),
    ({"MODEL_SERVER_WORKERS": "1", "OMP_NUM_THREADS": "3"}, ServerSize(1, 3, "MODEL_SERVER_WORKERS=1, "
                                                                             "OMP_NUM_THREADS=3")),
    ({"MODEL_SERVER_WORKERS": ""}, ServerSize(4, 1, "4 vCPUs, int8 model: one worker per vCPU, one thread each")),
])
def test_the_environment_overrides_either_number(environ, expected):
    assert server_size(4, "int8", environ) == expected


@pytest.mark.parametrize("key, value", [("MODEL_SERVER_WORKERS", "0"), ("OMP_NUM_THREADS", "two"),
                                        ("MODEL_SERVER_WORKERS", "-1")])
def test_an_override_that_is_not_a_positive_number_is_refused_naming_it(key, value):
    with pytest.raises(SizingError) as error:
        server_size(4, "fp32", {key: value})
    assert f"{key}={value!r}" in str(error.value)
