-- fuse-ls for Neovim >= 0.11: `vim.lsp.enable('fuse_ls')` picks this file up from the
-- runtimepath. Override anything with vim.lsp.config('fuse_ls', { ... }), e.g.
--   vim.lsp.config('fuse_ls', { settings = { fuseLs = { mode = 'debate' } } })
-- filetypes = nil: attach to every filetype (the server works on any text).
return require('fuse_ls').config()
