/*
** A VFS that writes a commit's WAL frames in one system call. See walvfs.go
** for why; this comment says how, and why it is safe.
**
** SQLite appends a frame to the WAL in two writes, its 24-byte header and
** then its page, so a commit of n pages costs 2n pwrite calls. This VFS is
** SQLite's own unix VFS with one change for WAL files: writes that continue
** one another are gathered in a buffer and written together. Every other
** file (the database, temporary files) is the unix VFS's own object, with
** its own methods: xOpen opens them in place and does not wrap them.
**
** The rule that keeps this safe: a commit frame's write returns only after
** everything buffered is in the file, and its error, if any, is that
** write's error. A frame is a commit frame when its header's second word
** (the database size after the commit) is not zero; SQLite writes that
** frame last in a commit and publishes the commit (the wal-index header)
** only after the write returned SQLITE_OK. So when a reader, the
** checkpointer or a process that recovers after a crash can see a frame,
** it is in the file, as with the unix VFS.
**
** What can stay buffered between calls is only frames of a transaction
** that has not committed: pages SQLite spilled from a full cache. Before
** any other method of the WAL file (a read, a sync, a truncation, the file
** size, a lock, a file control, close) the buffer is written, and that
** method fails if the write does. A write that fails keeps its bytes in the
** buffer, so nothing SQLite believes written is lost while the file is
** open; the unix VFS writes at most 128 KiB - 1 bytes a call, so neither
** does the buffer. Bytes reach the file in the order SQLite wrote them: a
** write that does not continue the buffer (a rollback's new frames over
** old ones, a page rewritten in place) first writes out what is buffered.
*/
#include <stdlib.h>
#include <string.h>

#include "walvfs.h"

#define WALVFS_NAME "scimbridge-wal"
#define FRAME_HEADER 24
#define BUFFER_CAP (128 * 1024 - 1)

typedef struct walFile {
  sqlite3_file base;
  sqlite3_file *real;   /* the unix VFS's file, just after this struct */
  unsigned char *buf;   /* BUFFER_CAP bytes, allocated at the first use */
  int n;                /* bytes buffered */
  sqlite3_int64 off;    /* the file offset of buf[0] */
  int commitPending;    /* the last bytes buffered are a commit frame's header */
} walFile;

static sqlite3_vfs *realVfs;
static sqlite3_vfs walVfs;
static sqlite3_io_methods walMethods;

/* walvfs_writes counts the system calls' worth of writes this VFS passed
** to the unix VFS for WAL files, for tests and benchmarks. */
static volatile long long walWrites;

/* walvfs_fail makes the next n writes to WAL files fail with rc, as a full
** disk or an I/O error would (tests). */
static int failWrites, failRC;

void walvfs_fail(int n, int rc) {
  __atomic_store_n(&failRC, rc, __ATOMIC_RELAXED);
  __atomic_store_n(&failWrites, n, __ATOMIC_RELEASE);
}

static int writeReal(walFile *f, const void *z, int n, sqlite3_int64 off) {
  int left = __atomic_load_n(&failWrites, __ATOMIC_ACQUIRE);
  while (left > 0) {
    if (__atomic_compare_exchange_n(&failWrites, &left, left - 1, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
      return __atomic_load_n(&failRC, __ATOMIC_RELAXED);
    }
  }
  __atomic_add_fetch(&walWrites, 1, __ATOMIC_RELAXED);
  return f->real->pMethods->xWrite(f->real, z, n, off);
}

static int flush(walFile *f) {
  int rc;
  if (f->n == 0) return SQLITE_OK;
  rc = writeReal(f, f->buf, f->n, f->off);
  if (rc != SQLITE_OK) return rc; /* kept: the next call tries again */
  f->n = 0;
  f->commitPending = 0;
  return SQLITE_OK;
}

static int commits(const unsigned char *h) {
  return (h[4] | h[5] | h[6] | h[7]) != 0;
}

static int walWrite(sqlite3_file *p, const void *z, int n, sqlite3_int64 off) {
  walFile *f = (walFile *)p;
  int rc;
  if (f->n > 0 && off == f->off + f->n && f->n + n <= BUFFER_CAP) {
    memcpy(f->buf + f->n, z, n);
    f->n += n;
    if (f->commitPending) return flush(f); /* the commit frame's page */
    f->commitPending = n == FRAME_HEADER && commits(z);
    return SQLITE_OK;
  }
  rc = flush(f);
  if (rc != SQLITE_OK) return rc;
  if (n == FRAME_HEADER && !commits(z)) {
    if (f->buf == 0 && (f->buf = malloc(BUFFER_CAP)) == 0) return writeReal(f, z, n, off);
    memcpy(f->buf, z, n);
    f->n = n;
    f->off = off;
    return SQLITE_OK;
  }
  return writeReal(f, z, n, off);
}

static int walClose(sqlite3_file *p) {
  walFile *f = (walFile *)p;
  int rc = flush(f);
  int rc2 = f->real->pMethods->xClose(f->real);
  free(f->buf);
  f->buf = 0;
  f->n = 0;
  return rc != SQLITE_OK ? rc : rc2;
}

static int walRead(sqlite3_file *p, void *z, int n, sqlite3_int64 off) {
  walFile *f = (walFile *)p;
  int rc = flush(f);
  return rc != SQLITE_OK ? rc : f->real->pMethods->xRead(f->real, z, n, off);
}

static int walTruncate(sqlite3_file *p, sqlite3_int64 size) {
  walFile *f = (walFile *)p;
  int rc = flush(f);
  return rc != SQLITE_OK ? rc : f->real->pMethods->xTruncate(f->real, size);
}

static int walSync(sqlite3_file *p, int flags) {
  walFile *f = (walFile *)p;
  int rc = flush(f);
  return rc != SQLITE_OK ? rc : f->real->pMethods->xSync(f->real, flags);
}

static int walFileSize(sqlite3_file *p, sqlite3_int64 *size) {
  walFile *f = (walFile *)p;
  int rc = flush(f);
  return rc != SQLITE_OK ? rc : f->real->pMethods->xFileSize(f->real, size);
}

static int walLock(sqlite3_file *p, int lock) {
  walFile *f = (walFile *)p;
  int rc = flush(f);
  return rc != SQLITE_OK ? rc : f->real->pMethods->xLock(f->real, lock);
}

static int walUnlock(sqlite3_file *p, int lock) {
  walFile *f = (walFile *)p;
  int rc = flush(f);
  return rc != SQLITE_OK ? rc : f->real->pMethods->xUnlock(f->real, lock);
}

static int walCheckReservedLock(sqlite3_file *p, int *out) {
  walFile *f = (walFile *)p;
  int rc = flush(f);
  return rc != SQLITE_OK ? rc : f->real->pMethods->xCheckReservedLock(f->real, out);
}

static int walFileControl(sqlite3_file *p, int op, void *arg) {
  walFile *f = (walFile *)p;
  int rc = flush(f);
  return rc != SQLITE_OK ? rc : f->real->pMethods->xFileControl(f->real, op, arg);
}

static int walSectorSize(sqlite3_file *p) {
  walFile *f = (walFile *)p;
  return f->real->pMethods->xSectorSize(f->real);
}

static int walDeviceCharacteristics(sqlite3_file *p) {
  walFile *f = (walFile *)p;
  return f->real->pMethods->xDeviceCharacteristics(f->real);
}

/* SQLite keeps the wal-index in the database file's shared memory, never
** in the WAL's; these only pass the calls on. */
static int walShmMap(sqlite3_file *p, int pg, int size, int extend, void volatile **pp) {
  walFile *f = (walFile *)p;
  return f->real->pMethods->xShmMap(f->real, pg, size, extend, pp);
}

static int walShmLock(sqlite3_file *p, int offset, int n, int flags) {
  walFile *f = (walFile *)p;
  return f->real->pMethods->xShmLock(f->real, offset, n, flags);
}

static void walShmBarrier(sqlite3_file *p) {
  walFile *f = (walFile *)p;
  f->real->pMethods->xShmBarrier(f->real);
}

static int walShmUnmap(sqlite3_file *p, int del) {
  walFile *f = (walFile *)p;
  return f->real->pMethods->xShmUnmap(f->real, del);
}

/* SQLite maps only database files into memory; a WAL file answers as a
** file that cannot be mapped. */
static int walFetch(sqlite3_file *p, sqlite3_int64 off, int n, void **pp) {
  (void)p;
  (void)off;
  (void)n;
  *pp = 0;
  return SQLITE_OK;
}

static int walUnfetch(sqlite3_file *p, sqlite3_int64 off, void *ptr) {
  (void)p;
  (void)off;
  (void)ptr;
  return SQLITE_OK;
}

static int walOpen(sqlite3_vfs *vfs, sqlite3_filename name, sqlite3_file *p, int flags, int *outFlags) {
  walFile *f = (walFile *)p;
  int rc;
  (void)vfs;
  if ((flags & SQLITE_OPEN_WAL) == 0) {
    /* Not a WAL: the unix VFS's file, in place, with its own methods. */
    return realVfs->xOpen(realVfs, name, p, flags, outFlags);
  }
  memset(f, 0, sizeof(*f));
  f->real = (sqlite3_file *)&f[1];
  rc = realVfs->xOpen(realVfs, name, f->real, flags, outFlags);
  if (rc != SQLITE_OK || f->real->pMethods == 0) {
    p->pMethods = 0;
    return rc;
  }
  p->pMethods = &walMethods;
  return SQLITE_OK;
}

/* walvfs_register registers the VFS (once; later calls do nothing). It
** returns an SQLite result code. */
int walvfs_register(void) {
  static int rc = -1;
  if (rc != -1) return rc;
  realVfs = sqlite3_vfs_find(0);
  if (realVfs == 0) return rc = SQLITE_ERROR;
  /* The unix VFS's other methods read nothing from the sqlite3_vfs they
  ** are given but mxPathname and pAppData, which the copy keeps. */
  walVfs = *realVfs;
  walVfs.pNext = 0;
  walVfs.zName = WALVFS_NAME;
  walVfs.szOsFile = (int)sizeof(walFile) + realVfs->szOsFile;
  walVfs.xOpen = walOpen;

  walMethods.iVersion = 3;
  walMethods.xClose = walClose;
  walMethods.xRead = walRead;
  walMethods.xWrite = walWrite;
  walMethods.xTruncate = walTruncate;
  walMethods.xSync = walSync;
  walMethods.xFileSize = walFileSize;
  walMethods.xLock = walLock;
  walMethods.xUnlock = walUnlock;
  walMethods.xCheckReservedLock = walCheckReservedLock;
  walMethods.xFileControl = walFileControl;
  walMethods.xSectorSize = walSectorSize;
  walMethods.xDeviceCharacteristics = walDeviceCharacteristics;
  walMethods.xShmMap = walShmMap;
  walMethods.xShmLock = walShmLock;
  walMethods.xShmBarrier = walShmBarrier;
  walMethods.xShmUnmap = walShmUnmap;
  walMethods.xFetch = walFetch;
  walMethods.xUnfetch = walUnfetch;
  return rc = sqlite3_vfs_register(&walVfs, 0);
}

long long walvfs_writes(void) {
  return __atomic_load_n(&walWrites, __ATOMIC_RELAXED);
}
