// libFuzzer's entry for programs that keep their own main (the Swift toolchain's
// libclang_rt.fuzzer, linked by -sanitize=fuzzer). Declared only: FuzzDriver calls it in
// builds made with -D FUZZING, the only ones that link libFuzzer.
#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*callback)(const uint8_t *data, size_t size));
