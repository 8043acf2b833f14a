// Writes one valid request per generated command into a directory: the fuzzer's seed corpus.
#include <cstdio>
#include <string>
#include <vector>

#include "testgen/testgen.h"

int main(int argc, char** argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: %s DIR\n", argv[0]);
        return 2;
    }
    venus::testgen::Harness h(1);
    for (size_t i = 0; i < venus::testgen::kCommandCaseCount; ++i) {
        std::vector<uint8_t> bytes;
        venus::testgen::kCommandCases[i].request(h, bytes);
        const std::string path = std::string(argv[1]) + "/" + venus::testgen::kCommandCases[i].name;
        FILE* f = std::fopen(path.c_str(), "wb");
        if (!f) return 1;
        std::fwrite(bytes.data(), 1, bytes.size(), f);
        std::fclose(f);
    }
    return 0;
}
