// Peer driver for bench/compare-search.sh: native hnswlib (header-only; include it with -I, it is not vendored here)
// with the index kept on disk, so a large index is built once and a benchmark sitting only loads it.
//
//   hnswlib_saved build BASE.npy M EF_CONSTRUCTION THREADS INDEX.bin
//       inner-product space, points added in input order from one shared counter (the first one alone), then saved;
//       prints one line: build_s=… (wall) cpu_s=… (process CPU).
//   hnswlib_saved query INDEX.bin QUERIES.npy GT_IDS.npy EF1,EF2,… REPEATS
//       loads the index, then for every ef: one untimed pass, REPEATS timed passes of all queries one at a time on
//       this thread (k = 10); prints one line per ef: recall@10, median QPS (wall) and median µs of process CPU per
//       query, the latter less sensitive to other processes on a shared host.
// Build: g++ -O3 -march=native -pthread -I<dir holding hnswlib/> hnswlib_saved.cpp -o hnswlib_saved
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <thread>
#include <vector>
#include "hnswlib/hnswlib.h"

namespace {

double wall() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

double cpu() {
  timespec t{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return t.tv_sec + t.tv_nsec * 1e-9;
}

[[noreturn]] void fail(const std::string& message) {
  fprintf(stderr, "error: %s\n", message.c_str());
  exit(2);
}

// A .npy array (format 1.x or 2.x, C order): its bytes, shape and element type.
struct Array {
  std::vector<char> bytes;
  std::vector<size_t> shape;
  std::string type;
  size_t data = 0;
  template <class T> const T* as() const { return reinterpret_cast<const T*>(bytes.data() + data); }
};

Array read_npy(const std::string& path, const char* want) {
  Array a;
  std::ifstream f(path, std::ios::binary);
  if (!f) fail(path + ": cannot open");
  a.bytes.assign(std::istreambuf_iterator<char>(f), {});
  if (a.bytes.size() < 12 || std::memcmp(a.bytes.data(), "\x93NUMPY", 6) != 0) fail(path + ": not a .npy file");
  bool v1 = a.bytes[6] == 1;
  size_t header_at = v1 ? 10 : 12;
  size_t header_len = v1 ? (uint8_t)a.bytes[8] | (size_t)(uint8_t)a.bytes[9] << 8 : *reinterpret_cast<uint32_t*>(&a.bytes[8]);
  std::string h(a.bytes.data() + header_at, header_len);
  size_t d = h.find("'descr'"), q = h.find('\'', h.find(':', d));
  a.type = h.substr(q + 1, h.find('\'', q + 1) - q - 1);
  if (a.type != want) fail(path + ": element type " + a.type + ", expected " + want);
  if (h.find("'fortran_order': True") != std::string::npos) fail(path + ": Fortran order is not supported");
  size_t open = h.find('(', h.find("'shape'")), close = h.find(')', open);
  std::stringstream dims(h.substr(open + 1, close - open - 1));
  for (std::string t; std::getline(dims, t, ',');)
    if (t.find_first_of("0123456789") != std::string::npos) a.shape.push_back(std::stoull(t));
  if (a.shape.size() != 2) fail(path + ": expected a 2-d array");
  a.data = header_at + header_len;
  return a;
}

int build(char** argv) {
  Array base = read_npy(argv[2], "<f4");
  int m = atoi(argv[3]), ef_construction = atoi(argv[4]), threads = atoi(argv[5]);
  size_t n = base.shape[0], d = base.shape[1];
  const float* x = base.as<float>();
  hnswlib::InnerProductSpace space(d);
  hnswlib::HierarchicalNSW<float> index(&space, n, m, ef_construction, 100);
  double w0 = wall(), c0 = cpu();
  index.addPoint(x, 0);
  std::atomic<size_t> next(1);
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; t++)
    pool.emplace_back([&] {
      for (size_t i; (i = next.fetch_add(1)) < n;) index.addPoint(x + i * d, i);
    });
  for (auto& t : pool) t.join();
  double w = wall() - w0, c = cpu() - c0;
  index.saveIndex(argv[6]);
  printf("hnswlib build n=%zu d=%zu M=%d efC=%d threads=%d build_s=%.1f cpu_s=%.1f\n", n, d, m, ef_construction, threads, w, c);
  return 0;
}

int query(char** argv) {
  Array queries = read_npy(argv[3], "<f4"), truth = read_npy(argv[4], "<i8");
  size_t nq = queries.shape[0], d = queries.shape[1], gk = truth.shape[1];
  const int k = 10;
  if (truth.shape[0] != nq || gk < (size_t)k) fail(std::string(argv[4]) + ": expected at least 10 ids per query");
  std::vector<int> efs;
  std::stringstream list(argv[5]);
  for (std::string t; std::getline(list, t, ',');) efs.push_back(atoi(t.c_str()));
  int repeats = atoi(argv[6]);
  hnswlib::InnerProductSpace space(d);
  double l0 = wall();
  hnswlib::HierarchicalNSW<float> index(&space, argv[2]);
  printf("hnswlib load_s=%.1f n=%zu\n", wall() - l0, (size_t)index.cur_element_count);
  const float* q = queries.as<float>();
  const int64_t* gt = truth.as<int64_t>();
  std::vector<int64_t> found(nq * k);
  auto pass = [&] {
    for (size_t i = 0; i < nq; i++) {
      auto r = index.searchKnn(q + i * d, k);
      for (int j = (int)r.size() - 1; j >= 0; j--) { found[i * k + j] = (int64_t)r.top().second; r.pop(); }
    }
  };
  for (int ef : efs) {
    index.setEf(ef);
    std::fill(found.begin(), found.end(), -1);
    pass();
    size_t hits = 0;
    for (size_t i = 0; i < nq; i++)
      for (int j = 0; j < k; j++)
        if (std::find(gt + i * gk, gt + i * gk + k, found[i * k + j]) != gt + i * gk + k) hits++;
    std::vector<double> qps, us;
    for (int r = 0; r < repeats; r++) {
      double w0 = wall(), c0 = cpu();
      pass();
      double w = wall() - w0, c = cpu() - c0;
      qps.push_back(nq / w);
      us.push_back(c / nq * 1e6);
    }
    std::sort(qps.begin(), qps.end());
    std::sort(us.begin(), us.end());
    printf("hnswlib ef=%d recall@10=%.4f qps=%.0f cpu_us_per_query=%.1f\n", ef, (double)hits / (nq * k), qps[qps.size() / 2], us[us.size() / 2]);
    fflush(stdout);
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 7 && std::strcmp(argv[1], "build") == 0) return build(argv);
  if (argc == 7 && std::strcmp(argv[1], "query") == 0) return query(argv);
  fprintf(stderr,
          "usage: %s build BASE.npy M EF_CONSTRUCTION THREADS INDEX.bin\n"
          "       %s query INDEX.bin QUERIES.npy GT_IDS.npy EF1,EF2,... REPEATS\n", argv[0], argv[0]);
  return 2;
}
