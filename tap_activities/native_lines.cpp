// The People.ai fragment pass of jsonl.RecordLines, in one call per piece of lines.
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
// Built by hatch_build.py when simdjson's headers and library are installed; optional.

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
// Pieces are about 1 MiB (jsonl.READ_BYTES) plus a partial line; a much larger one holds a
// line the batch refuses anyway, and would leave the kept buffers that large.
constexpr size_t kMaxPieceBytes = 8 << 20;

// What one thread keeps from call to call: fresh megabyte buffers would cost the kernel a
// page fault per page every time. Objects, not pointers, so that they are destroyed when
// their thread ends (the tap's download threads come and go with each window).
struct ThreadBuffers {
  simdjson::dom::parser parser;
  std::vector<char> padded;  // the piece, padded as simdjson reads it
  std::string out;           // the framed output

  ThreadBuffers() {
#ifdef SIMDJSON_THREADS_ENABLED
    // The tap already keeps every core busy with one pass per worker.
    parser.threaded = false;
#endif
  }
};

ThreadBuffers &thread_buffers() {
  thread_local ThreadBuffers buffers;
  return buffers;
}

struct Fields {
  std::vector<std::string> names;  // schema field names, UTF-8, unescaped
  std::vector<std::string> nulls;  // '"name":null' for each
};

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
                 std::string_view sep, std::string_view tail, std::string &out, size_t &count) {
  if (end > kMaxPieceBytes) return false;
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
  // The previous record's keys, copied: the parser reuses its string buffer per document.
  std::vector<std::string> last;
  bool first = true;
  std::string closing;
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
    for (auto field : object) keys.push_back(field.key);
    if (first || !std::equal(keys.begin(), keys.end(), last.begin(), last.end())) {
      last.assign(keys.begin(), keys.end());
      closing = closing_for(keys, fields);
      first = false;
    }
    if (count) out.append(sep);
    // From the start of the line, whitespace included, as the Python pass copies it.
    if (closing.empty()) {
      out.append(buf + line, stop - line);
    } else {
      out.append(buf + line, brace - line);
      out.append(closing);
    }
    count++;
    line = stop + 1;
  }
  if (stream.truncated_bytes() != 0 || line != end) return false;
  out.append(tail);
  return true;
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

PyObject *frame(PyObject *, PyObject *args) {
  Py_buffer data, head, sep, tail;
  Py_ssize_t end;
  PyObject *names, *nulls;
  if (!PyArg_ParseTuple(args, "y*nO!O!y*y*y*", &data, &end, &PyTuple_Type, &names,
                        &PyTuple_Type, &nulls, &head, &sep, &tail)) {
    return nullptr;
  }
  PyObject *result = nullptr;
  Fields fields;
  if (end < 0 || end > data.len) {
    PyErr_SetString(PyExc_ValueError, "end is outside the piece");
  } else if (PyTuple_GET_SIZE(names) != PyTuple_GET_SIZE(nulls)) {
    PyErr_SetString(PyExc_ValueError, "names and nulls differ in length");
  } else if (read_strings(names, fields.names) && read_strings(nulls, fields.nulls)) {
    std::string &out = thread_buffers().out;
    out.clear();
    size_t count = 0;
    bool framed = false;
    bool no_memory = false;
    Py_BEGIN_ALLOW_THREADS
    try {
      framed = frame_piece(static_cast<const char *>(data.buf), static_cast<size_t>(end), fields,
                           std::string_view(static_cast<const char *>(head.buf), head.len),
                           std::string_view(static_cast<const char *>(sep.buf), sep.len),
                           std::string_view(static_cast<const char *>(tail.buf), tail.len), out,
                           count);
    } catch (const std::bad_alloc &) {
      no_memory = true;
    }
    Py_END_ALLOW_THREADS
    if (no_memory) {
      PyErr_NoMemory();
    } else if (!framed || count == 0) {
      result = Py_NewRef(Py_None);
    } else {
      result = Py_BuildValue("(ny#)", static_cast<Py_ssize_t>(count), out.data(),
                             static_cast<Py_ssize_t>(out.size()));
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

PyMethodDef methods[] = {
    {"frame", frame, METH_VARARGS,
     "frame(data, end, names, nulls, head, sep, tail) -> (count, bytes) | None\n\n"
     "The lines of data[:end] framed as RecordLines.blocks frames them, or None when the\n"
     "piece must take the Python pass (an invalid, refused or blank line)."},
    {"implementation", implementation, METH_NOARGS,
     "The simdjson kernel chosen for this CPU (haswell, icelake, westmere, fallback...)."},
    {nullptr, nullptr, 0, nullptr}};

PyModuleDef module = {PyModuleDef_HEAD_INIT, "_native_lines",
                      "The fragment pass of RecordLines in C++ over simdjson.", -1, methods};

}  // namespace

PyMODINIT_FUNC PyInit__native_lines(void) { return PyModule_Create(&module); }
