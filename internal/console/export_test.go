package console

// Route is a row of the route table as tests see it.
type Route struct {
	Method, Pattern string
	Public, Limited bool
}

// RouteTable returns the route table, from which tests derive what every
// route must refuse.
func (s *Server) RouteTable() []Route {
	var rs []Route
	for _, rt := range s.routes() {
		rs = append(rs, Route{Method: rt.method, Pattern: rt.pattern, Public: rt.action == "", Limited: rt.limited})
	}
	return rs
}
