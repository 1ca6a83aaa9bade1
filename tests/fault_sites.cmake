cmake_minimum_required(VERSION 3.16)
# Checks that test_faults (test_atfork for pthread_atfork) wraps every
# function the library calls that can fail for want of a resource (memory,
# threads, fds, sync objects, fork handlers): lists the
# undefined symbols of the static library and compares them with WRAPPED.
# Usage: cmake -DNM=nm -DLIB=libpoolmap.a -DWRAPPED=malloc,calloc,... -P fault_sites.cmake
set(_resource_fns
  malloc calloc realloc reallocarray aligned_alloc posix_memalign memalign valloc
  pvalloc strdup strndup asprintf vasprintf open_memstream
  pthread_create eventfd pipe pipe2 open openat socket dup dup2 dup3 mmap
  timerfd_create signalfd epoll_create epoll_create1 fopen tmpfile
  pthread_mutex_init pthread_cond_init pthread_condattr_init pthread_condattr_setclock
  pthread_mutexattr_init pthread_rwlock_init pthread_spin_init pthread_barrier_init
  pthread_key_create pthread_attr_init sem_init pthread_atfork)
execute_process(COMMAND ${NM} -u ${LIB} OUTPUT_VARIABLE _out RESULT_VARIABLE _rc)
if(NOT _rc EQUAL 0)
  message(FATAL_ERROR "${NM} -u ${LIB} failed")
endif()
string(REPLACE "," ";" _wrapped "${WRAPPED}")
string(REGEX MATCHALL "U [A-Za-z0-9_]+" _undef "${_out}")
set(_missing "")
set(_seen "")
foreach(_u IN LISTS _undef)
  string(SUBSTRING "${_u}" 2 -1 _sym)
  if(_sym IN_LIST _resource_fns)
    list(APPEND _seen ${_sym})
    if(NOT _sym IN_LIST _wrapped)
      list(APPEND _missing ${_sym})
    endif()
  endif()
endforeach()
list(REMOVE_DUPLICATES _seen)
# The library allocates and starts threads: if nm showed neither, it read
# nothing useful (e.g. LTO objects) and the comparison below would pass
# vacuously.
if(NOT "calloc" IN_LIST _seen OR NOT "pthread_create" IN_LIST _seen)
  message(FATAL_ERROR "${NM} -u ${LIB} shows no call to calloc or pthread_create: "
          "cannot tell which resource functions the library calls")
endif()
if(_missing)
  list(REMOVE_DUPLICATES _missing)
  message(FATAL_ERROR "the library calls ${_missing}, which test_faults does not "
          "wrap: add it to POOLMAP_FAULT_SITES (tests/CMakeLists.txt) and a wrapper")
endif()
message(STATUS "fault sites the library calls, all wrapped: ${_seen}")
