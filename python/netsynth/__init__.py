"""netsynth for Python: datasets as numpy arrays, generation, evaluation.

A thin ctypes layer over libnetsynth.so: the library does the work and this
module mirrors its structs (ctypes.Structure, checked against the C side by
tests/test_python.c) and turns every failing call into a NetsynthError that
carries the library's message (ns_errmsg()).

    import netsynth
    real = netsynth.load_dataset("train.ds")      # arrays: bits, dir, iat_ns, labels
    model = netsynth.Model("model.nsm")
    synth = model.generate(prompt="app=web", n=100, seed=1)
    synth.save("web.pcap")                         # or .pcapng, .csv, .ds
    X, y = synth.features(packets=16), synth.label("app")

The library is found through $NETSYNTH_LIB (the .so file, or its folder),
then beside an installed module (PREFIX/lib/pythonX/dist-packages/netsynth ->
PREFIX/lib), then in the source tree's build/ folder, then by the system's
loader (ldconfig, LD_LIBRARY_PATH).
"""

import ctypes
import json
import os
import tempfile

import numpy as np

__all__ = ["NetsynthError", "Dataset", "Generated", "Model", "load_dataset", "evaluate", "load_eval",
           "netflow_names", "set_threads", "version", "library_path", "WIDTH", "NETFLOW_DIM"]

WIDTH = 1920            # NS_NP_MODEL_WIDTH: values per nPrint row (IPv4, IPv6, TCP, UDP, ICMP, 64 payload bytes)
NETFLOW_DIM = 20        # NS_FEATURES_NETFLOW_DIM
_MAX_LAYERS = 32        # NS_MODEL_MAX_LAYERS

# error.h's codes, for NetsynthError.code
_CODES = {-1: "NS_EIO", -2: "NS_EFORMAT", -3: "NS_ETRUNC", -4: "NS_ECORRUPT", -5: "NS_ENOMEM",
          -6: "NS_EARG", -7: "NS_EVERSION", -8: "NS_ERANGE", -9: "NS_EMISMATCH"}


class NetsynthError(Exception):
    """A library call failed: code is its NS_E* value (negative), name the
    code's name ("NS_EIO"), and the text ns_errmsg(), which names the file
    and the problem."""

    def __init__(self, code, message):
        super().__init__(message)
        self.code = code
        self.name = _CODES.get(code, str(code))


# ---------------------------------------------------------------- the structs
c_u8, c_u16, c_u32, c_u64 = ctypes.c_uint8, ctypes.c_uint16, ctypes.c_uint32, ctypes.c_uint64
c_i8, c_i32, c_i64 = ctypes.c_int8, ctypes.c_int32, ctypes.c_int64
c_int, c_float, c_double, c_size = ctypes.c_int, ctypes.c_float, ctypes.c_double, ctypes.c_size_t
c_char_pp = ctypes.POINTER(ctypes.c_char_p)
c_void_p = ctypes.c_void_p
P = ctypes.POINTER


class DsFlow(ctypes.Structure):          # ns_ds_flow
    _fields_ = [("first", c_u64), ("start_ns", c_i64), ("n_packets", c_u32), ("seen", c_u32), ("file", c_u32),
                ("client_ip", c_u32), ("server_ip", c_u32), ("client_port", c_u16), ("server_port", c_u16),
                ("proto", c_u8), ("ipv6", c_u8), ("pad_", c_u8 * 6)]


class DsTotals(ctypes.Structure):        # ns_ds_totals
    _fields_ = [("packets", c_u64 * 2), ("bytes", c_u64 * 2), ("end", c_u8), ("tcp_flags", c_u8 * 2),
                ("pad_", c_u8 * 1), ("span_us", c_u32)]


class DatasetStruct(ctypes.Structure):   # ns_dataset
    _fields_ = [("version", c_u32), ("width", c_u32), ("row_bytes", c_u32), ("max_packets", c_u32), ("flags", c_u32),
                ("idle_timeout_ns", c_i64), ("n_flows", c_u64), ("n_packets", c_u64),
                ("n_attrs", c_u32), ("n_tokens", c_u32), ("n_files", c_u32),
                ("attr_names", c_char_pp), ("attr_first", P(c_u32)), ("tokens", c_char_pp), ("files", c_char_pp),
                ("flows", P(DsFlow)), ("totals", P(DsTotals)), ("labels", P(c_i32)), ("iat_ns", P(c_i64)), ("dir", P(c_u8)),
                ("bits", P(c_u8)), ("mem_", c_void_p)]


class ModelConfig(ctypes.Structure):     # ns_model_config
    _fields_ = [(n, c_i32) for n in ("d", "n_layer", "n_head", "mlp_ratio", "max_packets", "in_dim", "out_dim",
                                      "n_bits", "vocab", "timing_bins", "len_bins", "groups", "self_cond")]


class Schedule(ctypes.Structure):        # ns_schedule
    _fields_ = [("logsnr_shift", c_float), ("t_min", c_float), ("t_max", c_float)]


class Repr(ctypes.Structure):            # ns_repr
    _fields_ = [("width", c_i32), ("n_bits", c_i32), ("cols", c_u16 * WIDTH), ("fixed", c_i8 * WIDTH),
                ("iat_mean", c_float), ("iat_std", c_float), ("timing_bins", c_i32), ("bin_lo", c_float),
                ("bin_hi", c_float)]


_pf = P(c_float)


class ModelParams(ctypes.Structure):     # ns_model_params: named slices of the weights
    _fields_ = ([(n, _pf) for n in ("in_w", "in_b", "pos", "t1_w", "t1_b", "t2_w", "t2_b", "prompt")] +
                [(n, _pf * _MAX_LAYERS) for n in ("ada_w", "ada_b", "qkv_w", "qkv_b", "proj_w", "proj_b",
                                                  "fc_w", "fc_b", "fc2_w", "fc2_b")] +
                [(n, _pf) for n in ("fada_w", "fada_b", "out_w", "out_b", "len1_w", "len1_b", "len2_w",
                                    "len2_b", "cont", "sc_w")])


class TrainState(ctypes.Structure):      # ns_train_state
    _fields_ = ([("step", c_i64), ("steps", c_i64), ("seed", c_i64)] +
                [(n, c_i32) for n in ("batch", "warmup", "eval_every", "ckpt_every", "log_every")] +
                [(n, c_float) for n in ("lr", "min_lr_frac", "weight_decay", "clip", "ema_decay", "p_uncond",
                                        "p_token_drop", "balance", "val_frac", "w_iat", "w_dir", "w_len",
                                        "cont_share")] +
                [("elapsed_s", c_double), ("data_sum", c_i64), ("self_cond", c_float)])


class ModelFile(ctypes.Structure):       # ns_modelfile
    _fields_ = [("cfg", ModelConfig), ("sched", Schedule), ("repr", Repr), ("n_attrs", c_u32), ("n_tokens", c_u32),
                ("attr_names", c_char_pp), ("attr_first", P(c_u32)), ("tokens", c_char_pp),
                ("n_combos", c_u32), ("combo_ids", P(c_i32)), ("combo_count", P(c_u32)),
                ("data_max_packets", c_u32), ("trace", c_void_p), ("n_params", c_size), ("weights", _pf),
                ("p", ModelParams), ("has_state", c_int), ("train_w", _pf), ("adam_m", _pf), ("adam_v", _pf),
                ("st", TrainState), ("provenance", ctypes.c_char_p)]


class Sampler(ctypes.Structure):         # ns_sampler
    _fields_ = [("kind", c_int), ("steps", c_int), ("eta", c_float)]


class GenFix(ctypes.Structure):          # ns_gen_fix
    _fields_ = [("n", c_int), ("col", (c_i8 * WIDTH) * 2)]


_PROGRESS = ctypes.CFUNCTYPE(None, c_void_p, c_size, c_size)


class GenOpts(ctypes.Structure):         # ns_gen_opts
    _fields_ = [("sampler", Sampler), ("guidance", c_float), ("timing_guidance", c_float), ("guided_steps", c_int),
                ("seed", c_u64), ("batch", c_int), ("length", c_int), ("length_guidance", c_float),
                ("fix", P(GenFix)), ("controlnet", c_void_p), ("control", c_void_p), ("control_scale", c_float),
                ("control_hard", c_int), ("progress", c_void_p), ("progress_ctx", c_void_p)]


class GenFlows(ctypes.Structure):        # ns_gen_flows
    _fields_ = [("n_attrs", c_u32), ("n_flows", c_size), ("n_rows", c_size), ("len", P(c_u32)),
                ("first", P(c_size)), ("labels", P(c_i32)), ("rows", P(c_i8)), ("dir", P(c_u8)),
                ("iat_ns", P(c_i64)), ("cap_flows_", c_size), ("cap_rows_", c_size)]


class GenRequest(ctypes.Structure):      # ns_gen_request
    _fields_ = [("ids", P(c_i32)), ("labels", P(c_i32)), ("n", c_size), ("n_caps", c_size), ("caps", P(c_size)),
                ("name", ctypes.c_char * 256), ("svc", P(c_u32)), ("span_ns", P(c_i64)),
                ("end_ns", P(c_i64))]


class GenPlan(ctypes.Structure):         # ns_gen_plan
    _fields_ = [("n_attrs", c_u32), ("n", c_size), ("req", P(GenRequest))]


class RepairPlan(ctypes.Structure):      # ns_repair_plan
    _fields_ = [("start_ns", c_i64), ("client", c_u32), ("server", c_u32), ("client_port", c_u16),
                ("ttl", c_u8 * 2), ("ipid", c_u8 * 2), ("ipid_first", c_u16 * 2), ("ts_first", c_u32 * 2),
                ("ts_hz", c_float * 2), ("close", c_u8),
                ("synack_ws", c_u8), ("synack_win", c_u16), ("rst_ts", c_u8),
                ("close_side", c_u8), ("close_shape", c_u8), ("hs_us", c_u32 * 2), ("synack_ts", c_u8),
                ("client_zero", c_u8), ("group", c_u32), ("turn_map", c_u16 * (2 * 2 * 32)),
                ("methods", c_u16 * 12), ("gateway", c_u8), ("link", c_u8),
                ("lens", c_u16 * (2 * 3 * 32)), ("server_port", c_u16), ("cut_ns", c_i64),
                ("pairs", c_u16 * (64 * 2)), ("pair_dir", c_u8 * 64), ("pay_map", c_u16 * (2 * 2 * 2 * 32)),
                ("pay_bare", c_u16 * (2 * 2)),
                ("tail_scale", c_float), ("wins", c_u16 * (2 * 32))]


class RepairOpts(ctypes.Structure):      # ns_repair_opts
    _fields_ = [("client_net", c_u32), ("server_net", c_u32), ("client_prefix", c_int), ("server_prefix", c_int),
                ("start_ns", c_i64), ("flow_gap_ns", c_i64), ("payload", c_int), ("linktype", c_int),
                ("mtu", c_int), ("seed", c_u64), ("plan", P(RepairPlan)), ("n_plan", c_size),
                ("net6", c_u8 * 16), ("prefix6", c_int), ("window", c_int)]


class TmodelCapture(ctypes.Structure):   # ns_tmodel_capture
    _fields_ = [("first", c_size), ("n", c_size), ("key", ctypes.c_char_p), ("span_ns", c_i64), ("end_ns", c_i64)]


class EvalInputs(ctypes.Structure):      # ns_eval_inputs
    _fields_ = [("real", P(DatasetStruct)), ("real_test", P(DatasetStruct)), ("synth", P(DatasetStruct)),
                ("real_name", ctypes.c_char_p), ("real_test_name", ctypes.c_char_p),
                ("synth_name", ctypes.c_char_p)]


class EvalOpts(ctypes.Structure):        # ns_eval_opts
    _fields_ = [("labels", ctypes.c_char_p), ("packets", c_int), ("trees", c_int), ("seed", c_u64),
                ("threads", c_int), ("netflow", c_int), ("netflow_packets", c_int), ("progress", c_void_p),
                ("progress_ctx", c_void_p)]


class EvalReport(ctypes.Structure):      # ns_eval_report
    _fields_ = [("opts", EvalOpts), ("n_levels", c_size), ("n_results", c_size), ("levels", c_void_p),
                ("results", c_void_p), ("joint_accuracy", (c_double * 3) * 2), ("seconds", c_double)]


# Every mirrored struct by its C name, for the layout test (tests/test_python.c).
STRUCTS = {"ns_ds_flow": DsFlow, "ns_ds_totals": DsTotals, "ns_dataset": DatasetStruct, "ns_model_config": ModelConfig,
           "ns_schedule": Schedule, "ns_repr": Repr, "ns_model_params": ModelParams, "ns_train_state": TrainState,
           "ns_modelfile": ModelFile, "ns_sampler": Sampler, "ns_gen_fix": GenFix, "ns_gen_opts": GenOpts,
           "ns_gen_flows": GenFlows, "ns_gen_request": GenRequest, "ns_gen_plan": GenPlan,
           "ns_repair_plan": RepairPlan, "ns_repair_opts": RepairOpts, "ns_tmodel_capture": TmodelCapture,
           "ns_eval_inputs": EvalInputs, "ns_eval_opts": EvalOpts, "ns_eval_report": EvalReport}


# ---------------------------------------------------------------- the library
def _candidates():
    env = os.environ.get("NETSYNTH_LIB")
    if env:
        # Only what was asked for: falling back elsewhere would hide a wrong path.
        return [os.path.join(env, "libnetsynth.so") if os.path.isdir(env) else env]
    here = os.path.dirname(os.path.abspath(__file__))
    return [os.path.normpath(os.path.join(here, "..", "..", "..", "libnetsynth.so.0")),  # PREFIX/lib
            os.path.normpath(os.path.join(here, "..", "..", "build", "libnetsynth.so")),   # source tree
            "libnetsynth.so.0"]


def _load():
    tried = []
    for path in _candidates():
        if os.sep in path and not os.path.exists(path):
            tried.append(path + " (absent)")
            continue
        try:
            return ctypes.CDLL(path), path
        except OSError as e:
            tried.append("%s (%s)" % (path, e))
    raise ImportError("netsynth: libnetsynth.so not found; tried " + "; ".join(tried) +
                      ". Set NETSYNTH_LIB to the library (or its folder), or build it with make")


_lib, library_path = _load()


def _fn(name, restype, *argtypes):
    f = getattr(_lib, name)
    f.restype, f.argtypes = restype, list(argtypes)
    return f


_errmsg = _fn("ns_errmsg", ctypes.c_char_p)
_version = _fn("ns_version", ctypes.c_char_p)
_pds, _pmf, _pgf, _pplan = P(DatasetStruct), P(ModelFile), P(GenFlows), P(GenPlan)
_ccp = ctypes.c_char_p
_ds_load = _fn("ns_dataset_load", c_int, _pds, _ccp)
_ds_free = _fn("ns_dataset_free", None, _pds)
_ds_flow_matrix = _fn("ns_dataset_flow_matrix", None, _pds, c_u64, P(c_i8))
_feat_nprint_dim = _fn("ns_features_nprint_dim", c_size, c_int)
_feat_nprint = _fn("ns_features_nprint", c_int, _pds, P(c_u64), c_size, c_int, P(c_i8))
_feat_netflow = _fn("ns_features_netflow", c_int, _pds, P(c_u64), c_size, c_int, P(c_float))
_feat_netflow_name = _fn("ns_features_netflow_name", _ccp, c_int)
_mf_load = _fn("ns_modelfile_load", c_int, _pmf, _ccp)
_mf_free = _fn("ns_modelfile_free", None, _pmf)
_mf_trained = _fn("ns_modelfile_token_trained", c_int, _pmf, c_i32)
_gen_opts_init = _fn("ns_gen_opts_init", None, P(GenOpts))
_gen_fix_init = _fn("ns_gen_fix_init", None, P(GenFix))
_gen_fix_add = _fn("ns_gen_fix_add", c_int, P(GenFix), _ccp)
_gen_parse_prompt = _fn("ns_gen_parse_prompt", c_int, _pmf, _ccp, P(c_i32))
_gen_implied = _fn("ns_gen_implied_labels", None, _pmf, P(c_i32), P(c_i32))
_generate = _fn("ns_generate", c_int, _pmf, P(GenOpts), P(c_i32), c_size, c_u64, _pgf)
_gen_flows_free = _fn("ns_gen_flows_free", None, _pgf)
_plan_per_class = _fn("ns_gen_plan_per_class", c_int, _pplan, _pmf, _ccp, c_size)
_plan_like = _fn("ns_gen_plan_like", c_int, _pplan, _pmf, _pds, _ccp)
_plan_free = _fn("ns_gen_plan_free", None, _pplan)
_plan_one_capture = _fn("ns_gen_plan_one_capture", None, _pplan)
_generate_plan = _fn("ns_generate_plan", c_int, _pmf, P(GenOpts), _pplan, c_u64, _pgf)
_write_dataset = _fn("ns_gen_write_dataset", c_int, _pgf, _pmf, _ccp, _ccp)
_write_csv = _fn("ns_gen_write_csv", c_int, _pgf, _ccp)
_write_capture = _fn("ns_gen_write_capture", c_int, _pgf, c_size, c_size, P(RepairOpts), c_int, c_int, _ccp,
                     P(c_u64), c_void_p)
_repair_opts_init = _fn("ns_repair_opts_init", None, P(RepairOpts))
_tmodel_key = _fn("ns_tmodel_key", c_int, _pmf, P(c_i32), ctypes.c_char_p, c_size)
_tmodel_plan = _fn("ns_tmodel_plan", c_int, c_void_p, _pgf, P(TmodelCapture), c_size, P(RepairOpts), c_u64,
                   P(RepairPlan))
_tmodel_plan_requests = _fn("ns_tmodel_plan_requests", c_int, c_void_p, _pmf, _pplan, _pgf, P(RepairOpts), c_u64,
                            P(P(RepairPlan)))
_eval_opts_init = _fn("ns_eval_opts_init", None, P(EvalOpts))
_eval = _fn("ns_eval", c_int, P(EvalReport), P(EvalInputs), P(EvalOpts))
_eval_free = _fn("ns_eval_report_free", None, P(EvalReport))
_eval_write_json = _fn("ns_eval_write_json", c_int, P(EvalReport), _ccp)
_blas_init = _fn("ns_blas_init", c_int, c_int)
_libc_free = ctypes.CDLL(None).free
_libc_free.argtypes, _libc_free.restype = [c_void_p], None

if _feat_nprint_dim(1) != WIDTH:
    raise ImportError("netsynth: %s has rows of %d values; this module was written for %d"
                      % (library_path, _feat_nprint_dim(1), WIDTH))


def _check(rc):
    if rc != 0:
        raise NetsynthError(rc, _errmsg().decode("utf-8", "replace"))


def _b(s):
    return os.fsencode(s) if isinstance(s, os.PathLike) else s.encode()


def _s(b):
    return b.decode("utf-8", "replace")


def set_threads(n):
    """Use n threads from now on, as the CLI's -j N: OpenMP's (the runtime
    the library was built with, already loaded with it) and the BLAS's."""
    if n < 1:
        raise NetsynthError(-6, "set_threads: n must be at least 1, not %d" % n)
    gomp = ctypes.CDLL("libgomp.so.1")  # the loader hands back the copy the library uses
    gomp.omp_set_num_threads.argtypes, gomp.omp_set_num_threads.restype = [c_int], None
    gomp.omp_set_num_threads(n)
    _check(_blas_init(n))


def version():
    """The library's version, ns_version()."""
    return _s(_version())


def _array(ptr, shape, dtype):
    """A copy of the C array ptr[prod(shape)] (an empty array for none)."""
    n = int(np.prod(shape))
    if n == 0:
        return np.zeros(shape, dtype)
    return np.ctypeslib.as_array(ptr, (n,)).view(dtype).reshape(shape).copy()


# ---------------------------------------------------------------- flows
class _Flows:
    """Flows as arrays. Packet k of every array is row k; flow i's packets
    are first[i] .. first[i] + lengths[i] - 1.
      bits      (n_packets, WIDTH) int8, values 1, 0, -1 (absent)
      dir       (n_packets,) uint8, 0 client->server, 1 server->client
      iat_ns    (n_packets,) int64, since the flow's previous packet
      first, lengths  (n_flows,) int64
      labels    (n_flows, len(attrs)) int32 token ids, -1 none
      attrs     attribute names; tokens: "attr=value" by id"""

    def __len__(self):
        return int(self.lengths.shape[0])

    @property
    def n_flows(self):
        return len(self)

    @property
    def n_packets(self):
        return int(self.dir.shape[0])

    @property
    def iat(self):
        """Inter-arrival times in seconds (float64)."""
        return self.iat_ns / 1e9

    def flow(self, i):
        """Flow i's rows, (lengths[i], WIDTH) int8."""
        f = int(self.first[i])
        return self.bits[f:f + int(self.lengths[i])]

    def padded(self, packets=None, fill=-1):
        """Every flow's first `packets` rows (default: the longest flow's
        length), (n_flows, packets, WIDTH) int8, rows past a flow's end all
        `fill` (-1: absent, as nPrint pads)."""
        packets = int(self.lengths.max(initial=0)) if packets is None else int(packets)
        out = np.full((len(self), packets, WIDTH), fill, np.int8)
        bits = self.bits
        for i in range(len(self)):
            n = min(int(self.lengths[i]), packets)
            f = int(self.first[i])
            out[i, :n] = bits[f:f + n]
        return out

    def flow_of_packet(self):
        """(n_packets,) int64: the flow each packet belongs to."""
        return np.repeat(np.arange(len(self), dtype=np.int64), self.lengths)

    def label(self, attr):
        """Each flow's value of attribute attr ("app"), as a numpy array of
        strings ("" where a flow has none)."""
        if attr not in self.attrs:
            raise NetsynthError(-6, "unknown attribute '%s' (attributes: %s)" % (attr, ", ".join(self.attrs)))
        col = self.labels[:, self.attrs.index(attr)]
        values = [t.split("=", 1)[1] for t in self.tokens] + [""]
        return np.array(values, dtype=str)[np.where(col < 0, len(self.tokens), col)]


class Dataset(_Flows):
    """A netsynth dataset file (`netsynth dataset`, `generate -o x.ds`),
    loaded by the library (ns_dataset_load: every check of the file). The
    arrays are copies; bits are unpacked when first used. Beside _Flows's
    arrays: flows (structured: first, start_ns, n_packets, seen, file,
    client_ip, server_ip, client_port, server_port, proto), files,
    max_packets, keep_addresses, and features() for scikit-learn."""

    def __init__(self, path):
        self.path = os.fspath(path)
        self._ds, self._bits = None, None
        d = DatasetStruct()
        _check(_ds_load(ctypes.byref(d), _b(self.path)))  # on failure there is nothing to free
        self._ds = d
        if d.width != WIDTH:
            w = d.width
            self._release()
            raise NetsynthError(-2, "%s: rows of %d values, not %d" % (self.path, w, WIDTH))
        self.max_packets, self.keep_addresses = int(d.max_packets), bool(d.flags & 1)
        self.attrs = [_s(d.attr_names[a]) for a in range(d.n_attrs)]
        self.tokens = [_s(d.tokens[t]) for t in range(d.n_tokens)]
        self.files = [_s(d.files[f]) for f in range(d.n_files)]
        nf, npk = int(d.n_flows), int(d.n_packets)
        self.flows = (np.ctypeslib.as_array(d.flows, (nf,)).copy() if nf else
                      np.zeros(0, np.dtype(DsFlow)))
        self.first = self.flows["first"].astype(np.int64)
        self.lengths = self.flows["n_packets"].astype(np.int64)
        self.labels = _array(d.labels, (nf, int(d.n_attrs)), np.int32)
        self.iat_ns = _array(d.iat_ns, (npk,), np.int64)
        self.dir = _array(d.dir, (npk,), np.uint8)
        self._bits = None

    @property
    def bits(self):
        if self._bits is None:
            self._need()
            bits = np.empty((self.n_packets, WIDTH), np.int8)
            base = bits.ctypes.data
            for i in range(len(self)):
                _ds_flow_matrix(ctypes.byref(self._ds), i,
                                ctypes.cast(base + int(self.first[i]) * WIDTH, P(c_i8)))
            self._bits = bits
        return self._bits

    def _need(self):
        if self._ds is None:
            raise NetsynthError(-6, "%s: dataset closed" % self.path)

    def features(self, packets=16, kind="nprint", flows=None):
        """What `netsynth eval` trains its forests on (features.h), one row
        per flow (or per index of `flows`): kind "nprint", the first
        `packets` rows back to back with address and port bits set to -1
        and rows past the flow's end all -1, (n, packets * WIDTH) int8; or
        "netflow", (n, 20) float32 statistics (netflow_names())."""
        self._need()
        idx = np.arange(len(self), dtype=np.uint64) if flows is None else np.asarray(flows, np.uint64)
        idx = np.ascontiguousarray(idx)
        if idx.size and int(idx.max()) >= len(self):
            raise NetsynthError(-6, "%s: flow %d of %d flows" % (self.path, int(idx.max()), len(self)))
        pidx = idx.ctypes.data_as(P(c_u64))
        if kind == "nprint":
            x = np.empty((idx.shape[0], _feat_nprint_dim(packets)), np.int8)
            _check(_feat_nprint(ctypes.byref(self._ds), pidx, idx.shape[0], packets, x.ctypes.data_as(P(c_i8))))
        elif kind == "netflow":
            x = np.empty((idx.shape[0], NETFLOW_DIM), np.float32)
            _check(_feat_netflow(ctypes.byref(self._ds), pidx, idx.shape[0], packets,
                                 x.ctypes.data_as(P(c_float))))
        else:
            raise NetsynthError(-6, "features: kind is 'nprint' or 'netflow', not '%s'" % kind)
        return x

    def close(self):
        """Release the library's copy (the arrays stay)."""
        if getattr(self, "_ds", None) is not None and self._bits is None and self._ds.n_packets:
            self.bits  # unpack while the packed rows are still there
        self._release()

    def _release(self):
        if getattr(self, "_ds", None) is not None:
            _ds_free(ctypes.byref(self._ds))
            self._ds = None

    def __del__(self):
        self._release()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def load_dataset(path):
    """A dataset file as a Dataset of numpy arrays."""
    return Dataset(path)


def netflow_names():
    """The names of the 20 NetFlow features, in their column order."""
    return [_s(_feat_netflow_name(j)) for j in range(NETFLOW_DIM)]


class Generated(_Flows):
    """Flows a Model generated: the arrays of _Flows (labels in the model's
    token ids), save() to write them as the CLI does, and features() (through
    a dataset written by the library)."""

    def __init__(self, model, g, plan, key, seed):
        self.model, self._g, self._plan, self._key, self.seed = model, g, plan, key, seed
        self.attrs, self.tokens = list(model.attrs), list(model.tokens)
        n, rows = int(g.n_flows), int(g.n_rows)
        self.lengths = _array(g.len, (n,), np.uint32).astype(np.int64)
        self.first = _array(g.first, (n,), np.uint64).astype(np.int64)
        self.labels = _array(g.labels, (n, int(g.n_attrs)), np.int32)
        self.bits = _array(g.rows, (rows, WIDTH), np.int8)
        self.dir = _array(g.dir, (rows,), np.uint8)
        self.iat_ns = _array(g.iat_ns, (rows,), np.int64)
        self._dataset = None

    def save(self, path, format=None, per_flow=False):
        """Write the flows as `generate -o` does: format "pcap" (.pcap, .cap),
        "pcapng", "csv" (nPrint) or "ds", given or from the extension.
        Captures are repaired packets laid out by the model's trace model
        (the fixed plan for a model without one), with generate's default
        addresses; per_flow writes one capture per flow (NAME-i.pcap).
        Returns the packets written (captures) or flows (csv, ds)."""
        fmt = format or _format_of(os.fspath(path))
        p = _b(os.fspath(path))
        if per_flow and fmt not in ("pcap", "pcapng"):
            raise NetsynthError(-6, "%s: one file per flow is pcap or pcapng only" % os.fspath(path))
        if fmt == "ds":
            _check(_write_dataset(ctypes.byref(self._g), ctypes.byref(self.model._m), _b(self.model.path), p))
            return len(self)
        if fmt == "csv":
            _check(_write_csv(ctypes.byref(self._g), p))
            return len(self)
        if fmt not in ("pcap", "pcapng"):
            raise NetsynthError(-6, "%s: format is pcap, pcapng, csv or ds, not '%s'" % (os.fspath(path), fmt))
        ro = RepairOpts()
        _repair_opts_init(ctypes.byref(ro))
        ro.seed = self.seed
        ro.window = self.model._m.cfg.max_packets   # as generate plans and repairs: from each flow's first window
        plan = None
        if self.model._m.trace and len(self):
            if self._plan is not None:
                pp = P(RepairPlan)()
                _check(_tmodel_plan_requests(self.model._m.trace, ctypes.byref(self.model._m),
                                             ctypes.byref(self._plan), ctypes.byref(self._g), ctypes.byref(ro),
                                             self.seed, ctypes.byref(pp)))
                plan = pp
            else:
                pp = (RepairPlan * (len(self) + 1))()
                cap = TmodelCapture(0, len(self), self._key)
                _check(_tmodel_plan(self.model._m.trace, ctypes.byref(self._g), ctypes.byref(cap), 1,
                                    ctypes.byref(ro), self.seed, pp))
                plan = ctypes.cast(pp, P(RepairPlan))
            ro.plan, ro.n_plan = plan, len(self)
        written = c_u64(0)
        try:
            _check(_write_capture(ctypes.byref(self._g), 0, len(self), ctypes.byref(ro), int(per_flow),
                                  1 if fmt == "pcapng" else 0, p, ctypes.byref(written), None))
        finally:
            if plan is not None and self._plan is not None:
                _libc_free(ctypes.cast(plan, c_void_p))
        return int(written.value)

    def dataset(self):
        """The flows as a Dataset (written by ns_gen_write_dataset to a
        temporary file and loaded back), for features()."""
        if self._dataset is None:
            fd, tmp = tempfile.mkstemp(suffix=".ds", prefix="netsynth-")
            os.close(fd)
            try:
                self.save(tmp, "ds")
                self._dataset = Dataset(tmp)
                self._dataset.bits
            finally:
                os.unlink(tmp)
        return self._dataset

    def features(self, packets=16, kind="nprint"):
        """As Dataset.features, of these flows."""
        return self.dataset().features(packets, kind)

    def __del__(self):
        g = getattr(self, "_g", None)
        if g is not None:
            _gen_flows_free(ctypes.byref(g))
            self._g = None
        plan = getattr(self, "_plan", None)
        if plan is not None:
            _plan_free(ctypes.byref(plan))
            self._plan = None


def _format_of(path):
    if path == "-":
        return "pcap"
    ext = os.path.splitext(path)[1].lower()
    fmt = {".pcap": "pcap", ".cap": "pcap", ".pcapng": "pcapng", ".csv": "csv", ".ds": "ds"}.get(ext)
    if fmt is None:
        raise NetsynthError(-6, "%s: unknown output extension '%s' (.pcap, .cap, .pcapng, .csv or .ds; or format=)"
                            % (path, ext))
    return fmt


# ---------------------------------------------------------------- models
class Model:
    """A trained model file (`netsynth train -o model.nsm`), loaded by
    ns_modelfile_load. attrs and tokens are its prompt vocabulary,
    trained_tokens those it learned (a prompt may use only these)."""

    def __init__(self, path):
        self.path = os.fspath(path)
        self._m = None
        m = ModelFile()
        _check(_mf_load(ctypes.byref(m), _b(self.path)))  # on failure there is nothing to free
        self._m = m
        self.attrs = [_s(m.attr_names[a]) for a in range(m.n_attrs)]
        self.tokens = [_s(m.tokens[t]) for t in range(m.n_tokens)]
        self.trained_tokens = [t for i, t in enumerate(self.tokens) if _mf_trained(ctypes.byref(m), i)]
        self.max_packets = int(m.cfg.max_packets)

    def generate(self, prompt=None, n=100, per_class=None, label=None, like=None, seed=1, steps=None,
                 guidance=None, length=None, fix=(), batch=0):
        """Generate flows, as `netsynth generate` with the same options gives
        them (same seed, same flows): n flows for prompt ("app=web rtt=10ms";
        "" or None: unprompted); or per_class flows for every trained value
        of attribute label (default the first); or as many flows per label
        combination as the dataset file `like` has. fix: constraints
        ("tcp_dprt=443", ...). Returns Generated."""
        if label is not None and per_class is None:
            raise NetsynthError(-6, "generate: label goes with per_class")
        if per_class is None and like is None and not 1 <= n <= 100000000:
            raise NetsynthError(-6, "generate: n must be in 1..100000000, not %d" % n)
        o = GenOpts()
        _gen_opts_init(ctypes.byref(o))
        o.seed, o.batch = seed, batch
        if steps is not None:
            o.sampler.steps = steps
        if guidance is not None:
            o.guidance = guidance
        if length is not None:
            o.length = length
        fx = GenFix()
        _gen_fix_init(ctypes.byref(fx))
        for f in ([fix] if isinstance(fix, str) else fix):
            _check(_gen_fix_add(ctypes.byref(fx), _b(f)))
        o.fix = ctypes.pointer(fx)
        g = GenFlows()
        m = self._m
        if per_class is not None or like is not None:
            if prompt or (per_class is not None and like is not None):
                raise NetsynthError(-6, "generate: one of prompt, per_class and like")
            plan = GenPlan()
            if per_class is not None:
                rc = _plan_per_class(ctypes.byref(plan), ctypes.byref(m), _b(label) if label else None, per_class)
            else:
                ds = Dataset(like)
                try:
                    rc = _plan_like(ctypes.byref(plan), ctypes.byref(m), ctypes.byref(ds._ds), _b(ds.path))
                finally:
                    ds._release()
            if rc:
                msg = _errmsg()
                _plan_free(ctypes.byref(plan))
                raise NetsynthError(rc, _s(msg))
            if not m.trace:
                _plan_one_capture(ctypes.byref(plan))
            rc = _generate_plan(ctypes.byref(m), ctypes.byref(o), ctypes.byref(plan), 0, ctypes.byref(g))
            if rc:
                msg = _errmsg()
                _gen_flows_free(ctypes.byref(g))
                _plan_free(ctypes.byref(plan))
                raise NetsynthError(rc, _s(msg))
            return Generated(self, g, plan, None, seed)
        ids = (c_i32 * (m.n_attrs + 1))()
        labels = (c_i32 * (m.n_attrs + 1))()
        _check(_gen_parse_prompt(ctypes.byref(m), _b(prompt or ""), ids))
        _gen_implied(ctypes.byref(m), ids, labels)
        key = ctypes.create_string_buffer(4096)
        if m.trace:
            _check(_tmodel_key(ctypes.byref(m), labels, key, 4096))
        rc = _generate(ctypes.byref(m), ctypes.byref(o), ids, n, 0, ctypes.byref(g))
        if rc:
            msg = _errmsg()
            _gen_flows_free(ctypes.byref(g))
            raise NetsynthError(rc, _s(msg))
        return Generated(self, g, None, key.value, seed)

    def close(self):
        if getattr(self, "_m", None) is not None:
            _mf_free(ctypes.byref(self._m))
            self._m = None

    def __del__(self):
        self.close()


# ---------------------------------------------------------------- evaluation
def _as_dataset(x):
    if x is None or isinstance(x, Dataset):
        return x
    if isinstance(x, Generated):
        return x.dataset()
    return Dataset(x)


def evaluate(real, synth=None, real_test=None, labels=None, packets=16, trees=100, seed=0, netflow=True, threads=0):
    """What `netsynth eval --real REAL --real-test TEST --synth SYNTH --json`
    computes (random forests: real, TSTR and TRTS per label and feature
    kind), through ns_eval: datasets as Dataset, Generated or file paths;
    labels a list or "a,b" (default: every attribute of real). Returns the
    JSON's dict (load_eval's)."""
    r, s, t = _as_dataset(real), _as_dataset(synth), _as_dataset(real_test)
    if labels is None:
        labels = r.attrs
    if not isinstance(labels, str):
        labels = ",".join(labels)
    o = EvalOpts()
    _eval_opts_init(ctypes.byref(o))
    lab = _b(labels)
    o.labels, o.packets, o.trees, o.seed, o.threads, o.netflow = lab, packets, trees, seed, threads, int(netflow)
    for d in (r, s, t):
        if d is not None:
            d._need()
    inp = EvalInputs(ctypes.pointer(r._ds), ctypes.pointer(t._ds) if t else None,
                     ctypes.pointer(s._ds) if s else None, _b(r.path), _b(t.path) if t else None,
                     _b(s.path) if s else None)
    rep = EvalReport()
    rc = _eval(ctypes.byref(rep), ctypes.byref(inp), ctypes.byref(o))
    if rc:
        msg = _errmsg()
        _eval_free(ctypes.byref(rep))
        raise NetsynthError(rc, _s(msg))
    fd, tmp = tempfile.mkstemp(suffix=".json", prefix="netsynth-eval-")
    os.close(fd)
    try:
        rc = _eval_write_json(ctypes.byref(rep), _b(tmp))
        msg = _errmsg() if rc else b""
        _eval_free(ctypes.byref(rep))
        if rc:
            raise NetsynthError(rc, _s(msg))
        return load_eval(tmp)
    finally:
        os.unlink(tmp)


def load_eval(path):
    """The JSON that `netsynth eval --json PATH` (or evaluate) writes, as a
    dict."""
    with open(path, encoding="utf-8") as f:
        return json.load(f)
