/*
** A VFS that writes a commit's WAL frames in one system call. See walvfs.go
** for why; this comment says how, and why it is safe.
**
** SQLite appends a frame to the WAL in two writes, its 24-byte header and
** then its page, so a commit of n pages costs 2n pwrite calls. This VFS is
** SQLite's own unix VFS with one change for WAL files: writes that continue
** one another are gathered in a buffer and written together. The database
** file is the unix VFS's, wrapped only to see its write lock released (see
** below); other files (journals, temporary files) are the unix VFS's own
** objects, with their own methods: xOpen opens them in place.
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
** method fails if the write does. A write that fails keeps its bytes in
** the buffer, so nothing SQLite believes written is lost while its
** transaction lasts. Bytes reach the file in the order SQLite wrote them:
** a write that does not continue the buffer (a savepoint's new frames over
** old ones, a page rewritten in place) first writes out what is buffered.
** The unix VFS writes at most 128 KiB - 1 bytes a call, so neither does
** the buffer.
**
** When the transaction ends, SQLite releases the WAL's write lock (in the
** database file's shared memory). Whatever is still buffered then belongs
** to a transaction that rolled back, and is dropped: written later, it
** would land over frames that another connection (the CLI beside the
** server, another process) committed meanwhile. A WAL whose database file
** this VFS did not open is not buffered at all.
*/
#include <stdlib.h>
#include <string.h>

#include "walvfs.h"

#define WALVFS_NAME "scimbridge-wal"
#define FRAME_HEADER 24
#define BUFFER_CAP (128 * 1024 - 1)

#define WAL_WRITE_LOCK 0

typedef struct dbFile dbFile;

typedef struct walFile {
  sqlite3_file base;
  sqlite3_file *real;   /* the unix VFS's file, just after this struct */
  dbFile *db;           /* the database file whose WAL this is */
  unsigned char *buf;   /* BUFFER_CAP bytes, allocated at the first use */
  int n;                /* bytes buffered */
  sqlite3_int64 off;    /* the file offset of buf[0] */
  int commitPending;    /* the last bytes buffered are a commit frame's header */
} walFile;

struct dbFile {
  sqlite3_file base;
  sqlite3_file *real;   /* the unix VFS's file, just after this struct */
  walFile *wal;         /* its open WAL, if any */
};

static sqlite3_vfs *realVfs;
static sqlite3_vfs walVfs;
static sqlite3_io_methods walMethods, dbMethods;

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
  if (f->db != 0) f->db->wal = 0;
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

/* The database file: the unix VFS's methods, and xShmLock sees the write
** lock released. */
#define REAL(p) (((dbFile *)(p))->real)

static int dbClose(sqlite3_file *p) {
  dbFile *f = (dbFile *)p;
  if (f->wal != 0) f->wal->db = 0;
  f->wal = 0;
  return f->real->pMethods->xClose(f->real);
}
static int dbRead(sqlite3_file *p, void *z, int n, sqlite3_int64 off) { return REAL(p)->pMethods->xRead(REAL(p), z, n, off); }
static int dbWrite(sqlite3_file *p, const void *z, int n, sqlite3_int64 off) { return REAL(p)->pMethods->xWrite(REAL(p), z, n, off); }
static int dbTruncate(sqlite3_file *p, sqlite3_int64 size) { return REAL(p)->pMethods->xTruncate(REAL(p), size); }
static int dbSync(sqlite3_file *p, int flags) { return REAL(p)->pMethods->xSync(REAL(p), flags); }
static int dbFileSize(sqlite3_file *p, sqlite3_int64 *size) { return REAL(p)->pMethods->xFileSize(REAL(p), size); }
static int dbLock(sqlite3_file *p, int lock) { return REAL(p)->pMethods->xLock(REAL(p), lock); }
static int dbUnlock(sqlite3_file *p, int lock) { return REAL(p)->pMethods->xUnlock(REAL(p), lock); }
static int dbCheckReservedLock(sqlite3_file *p, int *out) { return REAL(p)->pMethods->xCheckReservedLock(REAL(p), out); }
static int dbFileControl(sqlite3_file *p, int op, void *arg) { return REAL(p)->pMethods->xFileControl(REAL(p), op, arg); }
static int dbSectorSize(sqlite3_file *p) { return REAL(p)->pMethods->xSectorSize(REAL(p)); }
static int dbDeviceCharacteristics(sqlite3_file *p) { return REAL(p)->pMethods->xDeviceCharacteristics(REAL(p)); }
static int dbShmMap(sqlite3_file *p, int pg, int size, int extend, void volatile **pp) { return REAL(p)->pMethods->xShmMap(REAL(p), pg, size, extend, pp); }
static void dbShmBarrier(sqlite3_file *p) { REAL(p)->pMethods->xShmBarrier(REAL(p)); }
static int dbShmUnmap(sqlite3_file *p, int del) { return REAL(p)->pMethods->xShmUnmap(REAL(p), del); }
static int dbFetch(sqlite3_file *p, sqlite3_int64 off, int n, void **pp) { return REAL(p)->pMethods->xFetch(REAL(p), off, n, pp); }
static int dbUnfetch(sqlite3_file *p, sqlite3_int64 off, void *ptr) { return REAL(p)->pMethods->xUnfetch(REAL(p), off, ptr); }

static int dbShmLock(sqlite3_file *p, int offset, int n, int flags) {
  dbFile *f = (dbFile *)p;
  if (f->wal != 0 && flags == (SQLITE_SHM_UNLOCK | SQLITE_SHM_EXCLUSIVE) && offset <= WAL_WRITE_LOCK &&
      WAL_WRITE_LOCK < offset + n) {
    /* The write transaction ended: a commit left nothing buffered, so what
    ** is left was rolled back. */
    f->wal->n = 0;
    f->wal->commitPending = 0;
  }
  return f->real->pMethods->xShmLock(f->real, offset, n, flags);
}

static int walOpen(sqlite3_vfs *vfs, sqlite3_filename name, sqlite3_file *p, int flags, int *outFlags) {
  walFile *f = (walFile *)p;
  sqlite3_file *db;
  int rc;
  (void)vfs;
  if (flags & SQLITE_OPEN_MAIN_DB) {
    dbFile *d = (dbFile *)p;
    memset(d, 0, sizeof(*d));
    d->real = (sqlite3_file *)&d[1];
    rc = realVfs->xOpen(realVfs, name, d->real, flags, outFlags);
    if (rc != SQLITE_OK || d->real->pMethods == 0) {
      p->pMethods = 0;
      return rc;
    }
    if (d->real->pMethods->iVersion < 3) {
      /* Not the unix VFS this was written against: no wrapping. */
      d->real->pMethods->xClose(d->real);
      return realVfs->xOpen(realVfs, name, p, flags, outFlags);
    }
    p->pMethods = &dbMethods;
    return SQLITE_OK;
  }
  if ((flags & SQLITE_OPEN_WAL) == 0) {
    /* Neither: the unix VFS's file, in place, with its own methods. */
    return realVfs->xOpen(realVfs, name, p, flags, outFlags);
  }
  db = sqlite3_database_file_object(name);
  if (db == 0 || db->pMethods != &dbMethods) {
    /* No write lock to watch: not buffered. */
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
  f->db = (dbFile *)db;
  f->db->wal = f;
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
  walVfs.szOsFile = (int)(sizeof(walFile) > sizeof(dbFile) ? sizeof(walFile) : sizeof(dbFile)) + realVfs->szOsFile;
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

  dbMethods.iVersion = 3;
  dbMethods.xClose = dbClose;
  dbMethods.xRead = dbRead;
  dbMethods.xWrite = dbWrite;
  dbMethods.xTruncate = dbTruncate;
  dbMethods.xSync = dbSync;
  dbMethods.xFileSize = dbFileSize;
  dbMethods.xLock = dbLock;
  dbMethods.xUnlock = dbUnlock;
  dbMethods.xCheckReservedLock = dbCheckReservedLock;
  dbMethods.xFileControl = dbFileControl;
  dbMethods.xSectorSize = dbSectorSize;
  dbMethods.xDeviceCharacteristics = dbDeviceCharacteristics;
  dbMethods.xShmMap = dbShmMap;
  dbMethods.xShmLock = dbShmLock;
  dbMethods.xShmBarrier = dbShmBarrier;
  dbMethods.xShmUnmap = dbShmUnmap;
  dbMethods.xFetch = dbFetch;
  dbMethods.xUnfetch = dbUnfetch;
  return rc = sqlite3_vfs_register(&walVfs, 0);
}

long long walvfs_writes(void) {
  return __atomic_load_n(&walWrites, __ATOMIC_RELAXED);
}
