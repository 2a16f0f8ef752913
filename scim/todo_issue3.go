package scim

import "net/http"

func (s *Server) patchUser(w http.ResponseWriter, r *http.Request) error    { return notYet() }
func (s *Server) patchGroup(w http.ResponseWriter, r *http.Request) error   { return notYet() }
func (s *Server) searchUsers(w http.ResponseWriter, r *http.Request) error  { return notYet() }
func (s *Server) searchGroups(w http.ResponseWriter, r *http.Request) error { return notYet() }
func (s *Server) searchAll(w http.ResponseWriter, r *http.Request) error    { return notYet() }
func (s *Server) bulk(w http.ResponseWriter, r *http.Request) error         { return notYet() }
func (s *Server) me(w http.ResponseWriter, r *http.Request) error           { return notYet() }
func notYet() error                                                         { return errorf(http.StatusNotImplemented, "", "not implemented yet") }
