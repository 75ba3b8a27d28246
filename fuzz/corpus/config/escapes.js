const c = { 'eventSource': { "host": "h", databaseName: 'tab\there' }, replicationDestinations: [{host:'h2',databaseName:'d'}] }
module.exports = c
