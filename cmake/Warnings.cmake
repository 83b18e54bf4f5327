# One place for warning and sanitizer flags, applied to every prefcpu target.
add_library(prefcpu_options INTERFACE)
target_compile_options(prefcpu_options INTERFACE
  -Wall -Wextra -Wpedantic -Wshadow -Wconversion -Wsign-conversion
  -Wnon-virtual-dtor -Wold-style-cast -Wcast-align -Woverloaded-virtual
  -Wnull-dereference -Wimplicit-fallthrough -Wformat=2)
if(PREFCPU_WERROR)
  target_compile_options(prefcpu_options INTERFACE -Werror)
endif()
if(PREFCPU_SANITIZE)
  target_compile_options(prefcpu_options INTERFACE
    -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer -g)
  target_link_options(prefcpu_options INTERFACE -fsanitize=address,undefined)
endif()
if(PREFCPU_FUZZ)
  # Coverage for libFuzzer in every library; the fuzz targets add -fsanitize=fuzzer (the main).
  target_compile_options(prefcpu_options INTERFACE
    -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all
    -fno-omit-frame-pointer -g)
  target_link_options(prefcpu_options INTERFACE -fsanitize=address,undefined)
endif()
