--- fuse-ls: runtime state, shared by the modules and exposed for statuslines and tests
--- as require('fuse_ls').state. Never replaced, only changed in place.
return {
  inflight = {}, --- request id -> { client_id, bufnr, uri, command, finish }
  fusions = {}, --- fusionId -> last fuse/fusionStatus params
  models = {}, --- fusionId -> { [model#index] = fuse/modelStatus params }
  session_cost_usd = 0,
  last_result = {}, --- command -> last result table
  explain_buf = nil,
  explain_win = nil,
  shown_uris = {}, --- uri -> bufnr of explanations already on screen
  last_preview = nil, --- last fused fix preview (fuse_ls.EditPreview)
}
