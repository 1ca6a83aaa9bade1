#!/usr/bin/env bash
# Installs the build tree into a scratch prefix, then builds
# examples/calc_stuff.c against the installed package four ways and runs
# each: find_package with poolmap::poolmap (shared) and
# poolmap::poolmap_static, and pkg-config (shared, and --static). Also
# checks that the shared library exports the public API only, and that its
# SONAME carries the major version.
# Usage: install_consumer.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
build=$1 src=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
prefix=$work/prefix

cmake --install "$build" --prefix "$prefix" >/dev/null
libdir=$(dirname "$(find "$prefix" -name 'libpoolmap.so' -print -quit)")
test -f "$prefix/include/poolmap.h"
test -f "$libdir/libpoolmap.a"
test -f "$libdir/pkgconfig/poolmap.pc"
test -f "$prefix/share/man/man3/poolmap.3"

soname=$(objdump -p "$libdir/libpoolmap.so" | awk '/SONAME/ {print $2}')
major=$(awk '/#define POOLMAP_VERSION_MAJOR/ {print $3}' "$src/include/poolmap.h")
[ "$soname" = "libpoolmap.so.$major" ] || { echo "SONAME is '$soname'"; exit 1; }
# Every defined dynamic symbol but the version definitions (weak and
# indirect ones included).
exported=$(nm -D --defined-only "$libdir/libpoolmap.so" | awk 'NF == 3 && $2 != "A" {print $3}' | sort)
stray=$(printf '%s\n' "$exported" | grep -v '^pool_' || true)
[ -z "$stray" ] || { echo "exported beyond the API: $stray"; exit 1; }
grep -qx pool_map <<<"$exported"

# find_package, both targets.
mkdir -p "$work/cm"
cp "$src/examples/calc_stuff.c" "$work/cm/"
cat > "$work/cm/CMakeLists.txt" <<'CMAKE'
cmake_minimum_required(VERSION 3.16)
project(consumer C)
find_package(poolmap 0 REQUIRED CONFIG)
add_executable(calc_shared calc_stuff.c)
target_link_libraries(calc_shared PRIVATE poolmap::poolmap)
add_executable(calc_static calc_stuff.c)
target_link_libraries(calc_static PRIVATE poolmap::poolmap_static)
CMAKE
cmake -S "$work/cm" -B "$work/cm/build" -DCMAKE_PREFIX_PATH="$prefix" >/dev/null
cmake --build "$work/cm/build" >/dev/null
LD_LIBRARY_PATH=$libdir "$work/cm/build/calc_shared" >/dev/null
"$work/cm/build/calc_static" >/dev/null
# ldd's output is captured first: with pipefail, `ldd | grep -q` fails or
# passes by chance when grep exits at its match while ldd still writes.
deps=$(ldd "$work/cm/build/calc_shared")
grep -q "libpoolmap.so.$major" <<<"$deps" || { echo "shared consumer lacks libpoolmap.so.$major"; exit 1; }
deps=$(ldd "$work/cm/build/calc_static")
if grep -q libpoolmap <<<"$deps"; then
  echo "static consumer links libpoolmap.so"; exit 1
fi

# pkg-config, shared and static.
export PKG_CONFIG_PATH=$libdir/pkgconfig
cc=${CC:-cc}
$cc -o "$work/pc_shared" "$src/examples/calc_stuff.c" $(pkg-config --cflags --libs poolmap)
LD_LIBRARY_PATH=$libdir "$work/pc_shared" >/dev/null
$cc -o "$work/pc_static" "$src/examples/calc_stuff.c" $(pkg-config --cflags poolmap) \
    -Wl,-Bstatic $(pkg-config --static --libs-only-L --libs-only-l poolmap) -Wl,-Bdynamic \
    $(pkg-config --static --libs-only-other poolmap)
deps=$(ldd "$work/pc_static")
if grep -q libpoolmap <<<"$deps"; then
  echo "pkg-config --static consumer links libpoolmap.so"; exit 1
fi
"$work/pc_static" >/dev/null
echo "install consumer: find_package (shared, static) and pkg-config (shared, static) OK"
