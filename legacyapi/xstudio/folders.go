package xstudio

import (
	"cmp"
	"context"
	"encoding/json"
	"slices"
	"strings"

	"github.com/scimbridge/scimbridge/store"
)

// The user tree: folders are store objects; a user's place in the tree is
// an object named by the user's SCIM id. Users without a place (created
// through SCIM or the directory sync) live in the root folder.
const (
	folderKind    = "xstudio.folder"
	placementKind = "xstudio.placement"

	rootFolderID   = 1
	rootFolderName = "Users"
)

type folder struct {
	ID       int64  `json:"id"`
	Name     string `json:"name"`
	ParentID int64  `json:"parentId"`
}

type placement struct {
	FolderID int64 `json:"folderId"`
}

// folders returns every folder by id, the implicit root included.
func folders(ctx context.Context, r store.Reader) (map[int64]folder, error) {
	objs, err := r.ListObjects(ctx, folderKind)
	if err != nil {
		return nil, err
	}
	out := map[int64]folder{rootFolderID: {ID: rootFolderID, Name: rootFolderName}}
	for _, o := range objs {
		var f folder
		if err := json.Unmarshal(o.Doc, &f); err != nil {
			return nil, err
		}
		out[f.ID] = f
	}
	return out, nil
}

func folderExists(ctx context.Context, r store.Reader, id int64) error {
	if id == rootFolderID {
		return nil
	}
	if _, err := r.GetObject(ctx, folderKind, objectName(id)); store.IsNotFound(err) {
		return failf("folder %d does not exist", id)
	} else if err != nil {
		return err
	}
	return nil
}

// folderOf returns the folder a user is placed in.
func folderOf(ctx context.Context, r store.Reader, u *store.User) (int64, error) {
	o, err := r.GetObject(ctx, placementKind, u.ID)
	if store.IsNotFound(err) {
		return rootFolderID, nil
	}
	if err != nil {
		return 0, err
	}
	var p placement
	if err := json.Unmarshal(o.Doc, &p); err != nil {
		return 0, err
	}
	return p.FolderID, nil
}

// place puts a user into a folder (the root needs no record).
func place(ctx context.Context, tx store.Tx, u *store.User, folderID int64) error {
	if folderID == rootFolderID {
		if err := tx.DeleteObject(ctx, placementKind, u.ID); err != nil && !store.IsNotFound(err) {
			return err
		}
		return nil
	}
	doc, _ := json.Marshal(placement{FolderID: folderID})
	return tx.PutObject(ctx, &store.Object{Kind: placementKind, Name: u.ID, Doc: doc}, 0)
}

// treeNode is a folder as getUsersTree shows it.
type treeNode struct {
	ID      int64            `json:"id"`
	Name    string           `json:"name"`
	Folders []*treeNode      `json:"folders"`
	Users   []map[string]any `json:"users"`
}

// getUsersTree returns the folder tree with the users in each folder.
func (s *server) getUsersTree(c *call) (map[string]any, error) {
	if err := c.require(moduleUsers, rightRead); err != nil {
		return nil, err
	}
	st := s.deps.Store
	all, err := folders(c.ctx, st)
	if err != nil {
		return nil, err
	}
	nodes := make(map[int64]*treeNode, len(all))
	for id, f := range all {
		nodes[id] = &treeNode{ID: id, Name: f.Name, Folders: []*treeNode{}, Users: []map[string]any{}}
	}
	for id, f := range all {
		if id != rootFolderID {
			parent := nodes[f.ParentID]
			if parent == nil {
				parent = nodes[rootFolderID]
			}
			parent.Folders = append(parent.Folders, nodes[id])
		}
	}
	for _, n := range nodes {
		sortNodes(n.Folders)
	}
	placements, err := st.ListObjects(c.ctx, placementKind)
	if err != nil {
		return nil, err
	}
	where := make(map[string]int64, len(placements))
	for _, o := range placements {
		var p placement
		if json.Unmarshal(o.Doc, &p) == nil {
			where[o.Name] = p.FolderID
		}
	}
	const pageSize = 500
	for offset := 0; ; offset += pageSize {
		page, err := st.ListUsers(c.ctx, store.Query{Offset: offset, Limit: pageSize})
		if err != nil {
			return nil, err
		}
		for _, u := range page.Users {
			n := nodes[where[u.ID]]
			if n == nil {
				n = nodes[rootFolderID]
			}
			name, err := c.nameOf(st, u)
			if err != nil {
				return nil, err
			}
			n.Users = append(n.Users, map[string]any{"id": u.Key, "name": name})
		}
		if offset+pageSize >= page.Total || len(page.Users) == 0 {
			break
		}
	}
	return map[string]any{"folders": []*treeNode{nodes[rootFolderID]}}, nil
}

func sortNodes(ns []*treeNode) {
	slices.SortFunc(ns, func(a, b *treeNode) int { return cmp.Compare(a.ID, b.ID) })
}

// getUserAccessRights lists the folder ids the user may see: every folder
// (the adapter keeps no per-folder access lists).
func (s *server) getUserAccessRights(c *call) (map[string]any, error) {
	all, err := folders(c.ctx, s.deps.Store)
	if err != nil {
		return nil, err
	}
	ids := make([]int64, 0, len(all))
	for id := range all {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return map[string]any{"ids": ids}, nil
}

// createFolder (an adapter extension: the users page has no folder
// command) adds a folder below parentFolderId (default: the root).
func (s *server) createFolder(c *call) (map[string]any, error) {
	name := strings.TrimSpace(c.params.Get("name"))
	if name == "" {
		return nil, failf("missing parameter: name")
	}
	parent := int64(rootFolderID)
	if c.params.Has("parentFolderId") {
		var err error
		if parent, err = c.id("parentFolderId"); err != nil {
			return nil, err
		}
	}
	if err := c.require(moduleUsers, rightEdit); err != nil {
		return nil, err
	}
	f := folder{Name: name, ParentID: parent}
	err := s.deps.Store.Write(c.ctx, c.actor(), func(tx store.Tx) error {
		if err := folderExists(c.ctx, tx, parent); err != nil {
			return err
		}
		id, err := nextID(c.ctx, tx, folderKind, rootFolderID+1)
		if err != nil {
			return err
		}
		f.ID = id
		return putDoc(c.ctx, tx, folderKind, id, f)
	})
	if err != nil {
		return nil, err
	}
	return map[string]any{"folderId": f.ID}, nil
}

// moveUsers puts every listed user into destParentFolderId, or none when
// one id is unknown.
func (s *server) moveUsers(c *call) (map[string]any, error) {
	ids, err := c.ids("userIds", false)
	if err != nil {
		return nil, err
	}
	dest, err := c.id("destParentFolderId")
	if err != nil {
		return nil, err
	}
	if err := c.require(moduleUsers, rightEdit); err != nil {
		return nil, err
	}
	return nil, s.deps.Store.Write(c.ctx, c.actor(), func(tx store.Tx) error {
		if err := folderExists(c.ctx, tx, dest); err != nil {
			return err
		}
		for _, id := range ids {
			u, err := userByKey(c.ctx, tx, id)
			if err != nil {
				return err
			}
			if err := place(c.ctx, tx, u, dest); err != nil {
				return err
			}
		}
		return nil
	})
}
