// Express 5 with the method-override middleware, configured as its README shows: the
// X-HTTP-Method-Override header, a `_method` body field (form or JSON) through a custom
// getter, and the `_method` query parameter.
import express from "express";
import methodOverride from "method-override";

const app = express();
app.use(express.urlencoded({ extended: false }));
app.use(express.json());
app.use(methodOverride("X-HTTP-Method-Override"));
app.use(
  methodOverride((req) => {
    if (req.body && typeof req.body === "object" && "_method" in req.body) {
      const method = req.body._method;
      delete req.body._method;
      return method;
    }
  }),
);
app.use(methodOverride("_method"));

function answer(req, res, route, status = 200) {
  const dispatched = { method: req.method, route, framework: "express" };
  res.set("x-dispatched", JSON.stringify(dispatched));
  res.set("x-target", req.originalUrl);
  res.status(status).json(dispatched);
}
const handler = (route) => (req, res) => answer(req, res, route);

app.get("/v1/contacts", handler("/v1/contacts"));
app.post("/v1/contacts", handler("/v1/contacts"));
app.delete("/v1/contacts", handler("/v1/contacts"));
app.get("/v1/contacts/:id", handler("/v1/contacts/{id}"));
app.put("/v1/contacts/:id", handler("/v1/contacts/{id}"));
app.patch("/v1/contacts/:id", handler("/v1/contacts/{id}"));
app.delete("/v1/contacts/:id", handler("/v1/contacts/{id}"));
app.get("/v1/reports{/*rest}", handler("/v1/reports/*"));
app.use((req, res) => answer(req, res, null, 404));
// A body the parsers refuse, or a method the override rejects: nothing dispatched.
app.use((err, req, res, _next) => answer(req, res, null, err.status ?? 500));

app.listen(Number(process.argv[2]), "127.0.0.1");
