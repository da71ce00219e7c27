// The People.ai fragment pass of record_lines.RecordLines, in one call per piece of lines.
//
// Why native: the pure-Python pass costs about 4 us a record (simdjson parse, listing the
// keys as Python strings, slicing the line), most of it the interpreter's per-record
// overhead. Here simdjson's DOM document stream validates the whole piece (syntax, UTF-8,
// one object per line) and its top-level keys are compared without making Python objects.
//
// The contract is narrow on purpose: frame() returns exactly what the Python pass would
// yield for the piece, or None whenever the piece is anything but clean lines of objects
// (an invalid or refused line, a blank line, two values on one line, a document larger
// than a batch). The Python pass then handles that piece, with its line numbers and its
// orjson fallback, so there is one place that words errors.
//
// The data contract (tap_activities/records/contract.py) is kept here too: a top-level date-time
// field without an offset gets "Z" appended in the output (the only bytes that change), and
// the JSON types of keys the schema does not list are reported per piece, so the stream can
// declare them. A date-time value of any other shape, or a nested one that needs a change,
// declines the piece: the Python pass decides and words the error.
//
// Built by hatch_build.py (native/build.py) against the system's simdjson library when
// pkg-config knows it, else against the copy of simdjson's source pysimdjson ships; the
// build says which in TAP_ACTIVITIES_SIMDJSON_ORIGIN. Both simdjson 3.0 (Debian 12) and
// 3.12 (pysimdjson 7) compile it; where they differ (a BOM, below), the pass decides.

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <simdjson.h>

#include <algorithm>
#include <cstring>
#include <new>
#include <string>
#include <string_view>
#include <vector>

namespace {

// Larger documents fail the batch and send their piece to the Python pass. The parser's
// buffers grow to about 14 bytes per batch byte, so this also bounds its memory.
constexpr size_t kBatchBytes = 1 << 20;
// Pieces are about 1 MiB (record_lines.READ_BYTES) plus a partial line; a much larger one holds a
// line the batch refuses anyway, and would leave the kept buffers that large.
constexpr size_t kMaxPieceBytes = 8 << 20;
// As deep as orjson writes (scan.MAX_DEPTH): a deeper line fails the batch, and the Python
// pass refuses it with its line number.
constexpr size_t kMaxDepth = 254;

// What one thread keeps from call to call: fresh megabyte buffers would cost the kernel a
// page fault per page every time. Objects, not pointers, so that they are destroyed when
// their thread ends (the tap's download threads come and go with each window).
struct ThreadBuffers {
  simdjson::dom::parser parser;
  simdjson::ondemand::parser walker;  // finds the values a date-time fix splices into
  std::vector<char> padded;  // the piece, padded as simdjson reads it
  std::string out;           // the framed output

  ThreadBuffers() {
#ifdef SIMDJSON_THREADS_ENABLED
    // The tap already keeps every core busy with one pass per worker.
    parser.threaded = false;
#endif
    // parse_many keeps the parser's depth limit when it grows its buffers. A parser that
    // cannot allocate fails its first batch, which declines the piece.
    simdjson::error_code allocated = parser.allocate(kBatchBytes, kMaxDepth);
    (void)allocated;
  }
};

ThreadBuffers &thread_buffers() {
  thread_local ThreadBuffers buffers;
  return buffers;
}

struct Fields {
  std::vector<std::string> names;  // schema field names, UTF-8, unescaped
  std::vector<std::string> nulls;  // '"name":null' for each
  std::vector<std::string> date_times;  // top-level date-time field names
  std::vector<std::string> pointers;    // JSON pointers of nested date-time fields
  // The pointers cut into their keys ("/a/b" -> a, b): per record the first key is found
  // by its place in the layout, the rest by key, instead of parsing the pointer each time.
  std::vector<std::vector<std::string>> paths;
};

void cut_pointers(Fields &fields) {
  for (const auto &pointer : fields.pointers) {
    std::vector<std::string> keys;
    size_t at = 0;
    while (at < pointer.size()) {
      size_t next = pointer.find('/', at + 1);
      keys.push_back(pointer.substr(at + 1, (next == std::string::npos ? pointer.size() : next) - at - 1));
      at = next == std::string::npos ? pointer.size() : next;
    }
    fields.paths.push_back(std::move(keys));
  }
}

// JSON types as bits, as contract.py numbers them.
enum : int { kNull = 1, kBoolean = 2, kInteger = 4, kNumber = 8, kString = 16, kObject = 32,
             kArray = 64 };

int type_bits(simdjson::dom::element_type type) {
  switch (type) {
    case simdjson::dom::element_type::NULL_VALUE: return kNull;
    case simdjson::dom::element_type::BOOL: return kBoolean;
    case simdjson::dom::element_type::INT64:
    case simdjson::dom::element_type::UINT64: return kInteger;
    case simdjson::dom::element_type::DOUBLE: return kNumber;
    case simdjson::dom::element_type::STRING: return kString;
    case simdjson::dom::element_type::OBJECT: return kObject;
    default: return kArray;
  }
}

// How a date-time string stands against RFC 3339, as contract.normal_date_time judges it.
enum class Stamp { kValid, kNoOffset, kUndecided };

bool digits(std::string_view s, size_t at, size_t n) {
  for (size_t i = at; i < at + n; i++) {
    if (s[i] < '0' || s[i] > '9') return false;
  }
  return true;
}

int number(std::string_view s, size_t at, size_t n) {
  int value = 0;
  for (size_t i = at; i < at + n; i++) value = value * 10 + (s[i] - '0');
  return value;
}

int days_in_month(int year, int month) {
  static const int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
  return month == 2 && leap ? 29 : kDays[month - 1];
}

// Only the shapes the tap meets every day are decided here; anything else (a leap second,
// an odd spelling, garbage) is kUndecided and goes to the Python pass, whose verdict counts.
Stamp classify(std::string_view s) {
  if (s.size() < 19 || !digits(s, 0, 4) || s[4] != '-' || !digits(s, 5, 2) || s[7] != '-' ||
      !digits(s, 8, 2) || (s[10] != 'T' && s[10] != 't') || !digits(s, 11, 2) || s[13] != ':' ||
      !digits(s, 14, 2) || s[16] != ':' || !digits(s, 17, 2)) {
    return Stamp::kUndecided;
  }
  int month = number(s, 5, 2), day = number(s, 8, 2);
  if (month < 1 || month > 12 || day < 1 || day > days_in_month(number(s, 0, 4), month) ||
      number(s, 11, 2) > 23 || number(s, 14, 2) > 59 || number(s, 17, 2) > 59) {
    return Stamp::kUndecided;
  }
  size_t i = 19;
  if (i < s.size() && s[i] == '.') {
    size_t start = ++i;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') i++;
    if (i == start) return Stamp::kUndecided;
  }
  if (i == s.size()) return Stamp::kNoOffset;
  if (i + 1 == s.size() && (s[i] == 'Z' || s[i] == 'z')) return Stamp::kValid;
  if (i + 6 == s.size() && (s[i] == '+' || s[i] == '-') && digits(s, i + 1, 2) &&
      s[i + 3] == ':' && digits(s, i + 4, 2) && number(s, i + 1, 2) <= 23 &&
      number(s, i + 4, 2) <= 59) {
    return Stamp::kValid;
  }
  return Stamp::kUndecided;
}

// Whether a key, as written, holds an escape. `raw` is just past its opening quote: a quote
// inside a key is escaped, so the first quote or backslash met tells.
bool spelled_with_escape(const char *raw) {
  while (*raw != '"' && *raw != '\\') raw++;
  return *raw == '\\';
}

// Where the closing quotes of the top-level string values of `wanted` keys are, in the raw
// line: simdjson's On-Demand API walks the line's top level (its structural index skips
// nested values) and gives each value's position in the input. Keys are compared by their
// decoded value, as everywhere else (a key is unescaped only when it holds a backslash, so
// the usual key costs a byte compare); false unless each entry of `wanted` finds exactly
// one value.
bool value_quotes(simdjson::ondemand::parser &parser, const char *padded, size_t begin,
                  size_t stop, size_t capacity, const std::vector<std::string_view> &wanted,
                  std::vector<size_t> &quotes) {
  quotes.clear();
  simdjson::ondemand::document document;
  simdjson::ondemand::object object;
  if (parser.iterate(padded + begin, stop - begin, capacity - begin).get(document) ||
      document.get_object().get(object)) {
    return false;
  }
  for (auto field : object) {
    simdjson::ondemand::raw_json_string key;
    if (field.key().get(key)) return false;
    bool match = false;
    if (spelled_with_escape(key.raw())) {
      std::string_view decoded;
      if (field.unescaped_key().get(decoded)) return false;
      for (const auto &name : wanted) match = match || decoded == name;
    } else {
      // No escape: the key's bytes are its value, and unsafe_is_equal's closing-quote
      // check makes the compare exact (the names hold no unescaped quote that could end it).
      for (const auto &name : wanted) match = match || key.unsafe_is_equal(name);
    }
    if (!match) continue;
    std::string_view token;
    if (field.value().raw_json_token().get(token)) return false;
    size_t last = token.find_last_not_of(" \t\r\n");
    if (last == std::string_view::npos || token[0] != '"' || token[last] != '"') return false;
    quotes.push_back(static_cast<size_t>(token.data() + last - padded));
  }
  if (quotes.size() != wanted.size()) return false;
  std::sort(quotes.begin(), quotes.end());
  return true;
}

// Keys outside the schema seen in a piece, with the JSON types of their values.
struct Unknown {
  std::string name;
  int types;
};

// Whether a key stands twice among these (unescaped) keys: the Python pass refuses such a
// record (decode.refuse_twice), so the piece goes its way.
bool has_twice(const std::vector<std::string_view> &keys) {
  std::vector<std::string_view> sorted(keys);
  std::sort(sorted.begin(), sorted.end());
  return std::adjacent_find(sorted.begin(), sorted.end()) != sorted.end();
}

// The value of `key` in `parent`: false when it is absent or stands twice (then `twice`).
bool only_value(simdjson::dom::object parent, std::string_view key, simdjson::dom::element &value,
                bool &twice) {
  size_t found = 0;
  for (auto field : parent) {
    if (field.key == key) {
      value = field.value;
      found++;
    }
  }
  twice = found > 1;
  return found == 1;
}

// What closes a record with these keys: empty (the line goes out as is) or the schema
// fields it lacks as nulls and the closing brace; as RecordLines._layout words it.
std::string closing_for(const std::vector<std::string_view> &keys, const Fields &fields) {
  std::string closing;
  for (size_t f = 0; f < fields.names.size(); f++) {
    bool present = false;
    for (const auto &key : keys) {
      if (key == fields.names[f]) {
        present = true;
        break;
      }
    }
    if (present) continue;
    if (!closing.empty() || !keys.empty()) closing.push_back(',');
    closing.append(fields.nulls[f]);
  }
  if (!closing.empty()) closing.push_back('}');
  return closing;
}

// Frames buf[0:end) into out; false when the piece must go the Python way.
bool frame_piece(const char *buf, size_t end, const Fields &fields, std::string_view head,
                 std::string_view sep, std::string_view tail, std::string &out, size_t &count,
                 std::vector<Unknown> &unknown) {
  if (end > kMaxPieceBytes) return false;
  // A byte order mark opening the piece: the Python pass refuses it (a fragment's own is
  // skipped before the piece gets here). simdjson 3.4 and later skip it in parse_many and
  // count every position from after it, which would put each line's bytes off by three.
  if (end >= 3 && std::memcmp(buf, "\xEF\xBB\xBF", 3) == 0) return false;
  ThreadBuffers &buffers = thread_buffers();
  buffers.padded.resize(end + simdjson::SIMDJSON_PADDING);
  std::memcpy(buffers.padded.data(), buf, end);
  std::memset(buffers.padded.data() + end, 0, simdjson::SIMDJSON_PADDING);
  simdjson::dom::document_stream stream;
  if (buffers.parser
          .parse_many(reinterpret_cast<const uint8_t *>(buffers.padded.data()), end, kBatchBytes)
          .get(stream)) {
    return false;
  }

  out.reserve(end + end / 8 + head.size() + tail.size());
  out.append(head);
  std::vector<std::string_view> keys;
  std::vector<simdjson::dom::element> values;
  // The previous record's keys, copied: the parser reuses its string buffer per document.
  std::vector<std::string> last;
  bool first = true;
  bool twice = false;      // a key twice in this layout
  std::vector<char> seen;  // schema fields met in this layout
  std::string closing;
  std::vector<size_t> stamp_slots;    // positions of date-time fields in this layout
  std::vector<size_t> nested_slots;   // position of each nested path's first key, or none
  std::vector<size_t> unknown_slots;  // positions of keys the schema does not list
  std::vector<std::string_view> to_fix;
  std::vector<size_t> quotes;
  size_t line = 0;  // where the current line starts
  for (auto it = stream.begin(); it != stream.end(); ++it) {
    simdjson::dom::element document;
    simdjson::dom::object object;
    if ((*it).get(document) || document.get_object().get(object)) return false;
    // One object per line: the line's first newline comes after the object's closing
    // brace (JSON strings hold no raw newline, so one inside would split the object).
    size_t start = it.current_index();
    if (start < line) return false;
    const char *newline = static_cast<const char *>(std::memchr(buf + line, '\n', end - line));
    if (newline == nullptr) return false;
    size_t stop = newline - buf;
    size_t brace = start + it.source().size() - 1;
    if (brace >= stop) return false;

    keys.clear();
    values.clear();
    for (auto field : object) {
      keys.push_back(field.key);
      values.push_back(field.value);
    }
    if (first || !std::equal(keys.begin(), keys.end(), last.begin(), last.end())) {
      last.assign(keys.begin(), keys.end());
      closing = closing_for(keys, fields);
      first = false;
      stamp_slots.clear();
      unknown_slots.clear();
      nested_slots.assign(fields.paths.size(), keys.size());
      for (size_t n = 0; n < fields.paths.size(); n++) {
        auto slot = std::find(keys.begin(), keys.end(), fields.paths[n][0]);
        if (slot != keys.end()) nested_slots[n] = slot - keys.begin();
      }
      // A key twice: a schema field seen before, or a key outside it equal to an earlier one.
      twice = false;
      seen.assign(fields.names.size(), 0);
      for (size_t k = 0; k < keys.size(); k++) {
        if (std::find(fields.date_times.begin(), fields.date_times.end(), keys[k]) !=
            fields.date_times.end()) {
          stamp_slots.push_back(k);
        }
        auto name = std::find(fields.names.begin(), fields.names.end(), keys[k]);
        if (name == fields.names.end()) {
          for (size_t u : unknown_slots) twice = twice || keys[u] == keys[k];
          unknown_slots.push_back(k);
        } else {
          char &was = seen[name - fields.names.begin()];
          twice = twice || was;
          was = 1;
        }
      }
    }
    if (twice) return false;
    // A byte order mark before the object: the Python pass refuses it (simdjson may not).
    if (start - line >= 3 && std::memcmp(buf + line, "\xEF\xBB\xBF", 3) == 0) return false;
    to_fix.clear();
    for (size_t k : stamp_slots) {
      std::string_view stamp;
      if (values[k].is_null()) continue;
      if (values[k].get_string().get(stamp)) return false;
      Stamp verdict = classify(stamp);
      if (verdict == Stamp::kUndecided) return false;
      if (verdict == Stamp::kNoOffset) to_fix.push_back(keys[k]);
    }
    for (size_t n = 0; n < fields.paths.size(); n++) {
      if (nested_slots[n] == keys.size()) continue;  // not in this layout
      simdjson::dom::element nested = values[nested_slots[n]];
      bool absent = false;
      for (size_t k = 1; k < fields.paths[n].size() && !absent; k++) {
        simdjson::dom::object parent;
        bool key_twice = false;
        absent = nested.get_object().get(parent) ||
                 !only_value(parent, fields.paths[n][k], nested, key_twice);
        if (key_twice) return false;
      }
      if (absent || nested.is_null()) continue;
      std::string_view stamp;
      if (nested.get_string().get(stamp) || classify(stamp) != Stamp::kValid) return false;
    }
    for (size_t k : unknown_slots) {
      int bits = type_bits(values[k].type());
      auto known = std::find_if(unknown.begin(), unknown.end(),
                                [&](const Unknown &u) { return u.name == keys[k]; });
      if (known == unknown.end()) {
        unknown.push_back({std::string(keys[k]), bits});
      } else {
        known->types |= bits;
      }
    }
    if (count) out.append(sep);
    // From the start of the line, whitespace included, as the Python pass copies it.
    size_t copied = line;
    if (!to_fix.empty()) {
      if (!value_quotes(buffers.walker, buffers.padded.data(), line, stop, end +
                        simdjson::SIMDJSON_PADDING, to_fix, quotes)) {
        return false;
      }
      for (size_t quote : quotes) {
        out.append(buf + copied, quote - copied);
        out.push_back('Z');
        copied = quote;
      }
    }
    if (closing.empty()) {
      out.append(buf + copied, stop - copied);
    } else {
      out.append(buf + copied, brace - copied);
      out.append(closing);
    }
    count++;
    line = stop + 1;
  }
  if (stream.truncated_bytes() != 0 || line != end) return false;
  out.append(tail);
  return true;
}

// Arguments RecordLines never gets wrong, checked all the same: the pass must not read out
// of bounds whatever it is called with. Pointers are JSON pointers ("/a/b"), names unique.
const char *bad_fields(const Fields &fields) {
  for (const auto &pointer : fields.pointers) {
    if (pointer.size() < 2 || pointer[0] != '/') return "a pointer is not of the form /key[/key...]";
  }
  std::vector<std::string_view> names(fields.names.begin(), fields.names.end());
  if (has_twice(names)) return "a name stands twice in names";
  return nullptr;
}

bool read_strings(PyObject *tuple, std::vector<std::string> &into) {
  for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(tuple); i++) {
    char *bytes;
    Py_ssize_t size;
    if (PyBytes_AsStringAndSize(PyTuple_GET_ITEM(tuple, i), &bytes, &size) < 0) return false;
    into.emplace_back(bytes, size);
  }
  return true;
}

// (count, framed bytes, {unknown key: type bits} or None)
PyObject *build_result(size_t count, const std::string &out, const std::vector<Unknown> &unknown) {
  PyObject *types = Py_None;
  if (unknown.empty()) {
    Py_INCREF(types);
  } else {
    types = PyDict_New();
    if (types == nullptr) return nullptr;
    for (const auto &u : unknown) {
      PyObject *name = PyUnicode_FromStringAndSize(u.name.data(), u.name.size());
      PyObject *bits = PyLong_FromLong(u.types);
      bool stored = name != nullptr && bits != nullptr && PyDict_SetItem(types, name, bits) == 0;
      Py_XDECREF(name);
      Py_XDECREF(bits);
      if (!stored) {
        Py_DECREF(types);
        return nullptr;
      }
    }
  }
  return Py_BuildValue("(ny#N)", static_cast<Py_ssize_t>(count), out.data(),
                       static_cast<Py_ssize_t>(out.size()), types);
}

PyObject *frame(PyObject *, PyObject *args) {
  Py_buffer data, head, sep, tail;
  Py_ssize_t end;
  PyObject *names, *nulls, *date_times, *pointers;
  if (!PyArg_ParseTuple(args, "y*nO!O!y*y*y*O!O!", &data, &end, &PyTuple_Type, &names,
                        &PyTuple_Type, &nulls, &head, &sep, &tail, &PyTuple_Type, &date_times,
                        &PyTuple_Type, &pointers)) {
    return nullptr;
  }
  PyObject *result = nullptr;
  Fields fields;
  if (end < 0 || end > data.len) {
    PyErr_SetString(PyExc_ValueError, "end is outside the piece");
  } else if (PyTuple_GET_SIZE(names) != PyTuple_GET_SIZE(nulls)) {
    PyErr_SetString(PyExc_ValueError, "names and nulls differ in length");
  } else if (read_strings(names, fields.names) && read_strings(nulls, fields.nulls) &&
             read_strings(date_times, fields.date_times) &&
             read_strings(pointers, fields.pointers)) {
    if (const char *bad = bad_fields(fields)) {
      PyErr_SetString(PyExc_ValueError, bad);
      PyBuffer_Release(&data);
      PyBuffer_Release(&head);
      PyBuffer_Release(&sep);
      PyBuffer_Release(&tail);
      return nullptr;
    }
    cut_pointers(fields);
    std::string &out = thread_buffers().out;
    out.clear();
    std::vector<Unknown> unknown;
    size_t count = 0;
    bool framed = false;
    bool no_memory = false;
    Py_BEGIN_ALLOW_THREADS
    try {
      framed = frame_piece(static_cast<const char *>(data.buf), static_cast<size_t>(end), fields,
                           std::string_view(static_cast<const char *>(head.buf), head.len),
                           std::string_view(static_cast<const char *>(sep.buf), sep.len),
                           std::string_view(static_cast<const char *>(tail.buf), tail.len), out,
                           count, unknown);
    } catch (const std::bad_alloc &) {
      no_memory = true;
    }
    Py_END_ALLOW_THREADS
    if (no_memory) {
      PyErr_NoMemory();
    } else if (!framed || count == 0) {
      result = Py_NewRef(Py_None);
    } else {
      result = build_result(count, out, unknown);
    }
  }
  PyBuffer_Release(&data);
  PyBuffer_Release(&head);
  PyBuffer_Release(&sep);
  PyBuffer_Release(&tail);
  return result;
}

PyObject *implementation(PyObject *, PyObject *) {
  return PyUnicode_FromString(simdjson::get_active_implementation()->name().c_str());
}

#ifndef TAP_ACTIVITIES_SIMDJSON_ORIGIN
#define TAP_ACTIVITIES_SIMDJSON_ORIGIN "unknown origin"
#endif

// From the version enum: SIMDJSON_VERSION is a bare token in simdjson 3.0, a string later.
PyObject *simdjson_used(PyObject *, PyObject *) {
  return Py_BuildValue("(Ns)",
                       PyUnicode_FromFormat("%d.%d.%d", int(simdjson::SIMDJSON_VERSION_MAJOR),
                                            int(simdjson::SIMDJSON_VERSION_MINOR),
                                            int(simdjson::SIMDJSON_VERSION_REVISION)),
                       TAP_ACTIVITIES_SIMDJSON_ORIGIN);
}

PyMethodDef methods[] = {
    {"frame", frame, METH_VARARGS,
     "frame(data, end, names, nulls, head, sep, tail, date_times, pointers)\n"
     "    -> (count, bytes, unknown types | None) | None\n\n"
     "The lines of data[:end] framed as RecordLines.blocks frames them, or None when the\n"
     "piece must take the Python pass (an invalid, refused or blank line, a date-time\n"
     "this pass does not decide)."},
    {"implementation", implementation, METH_NOARGS,
     "The simdjson kernel chosen for this CPU (haswell, icelake, westmere, fallback...)."},
    {"simdjson", simdjson_used, METH_NOARGS,
     "(version, origin) of the simdjson this build used: origin 'system library' or\n"
     "'pysimdjson X.Y.Z' (the copy of simdjson's source that pysimdjson ships)."},
    {nullptr, nullptr, 0, nullptr}};

PyModuleDef module = {PyModuleDef_HEAD_INIT, "_lines",
                      "The fragment pass of RecordLines in C++ over simdjson.", -1, methods};

}  // namespace

PyMODINIT_FUNC PyInit__lines(void) { return PyModule_Create(&module); }
